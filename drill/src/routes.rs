//! HTTP routing: the Kubernetes paths, discovery, and the `/drill/` control endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query as QueryExtractor, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::catalog::{self, ResourceType};
use crate::crud::{self, Query};
use crate::faults::{self, Attributes, Deny, Fault, Timing};
use crate::kubelet::{self, KubeletAnswer};
use crate::path::{self, ResourcePath, Route};
use crate::record::{self, RecordedRequest};
use crate::server::{Cluster, Shared};
use crate::status::{ApiError, json_response, text_response};
use crate::{discovery, eviction, scale, watch};

/// Bodies larger than this are refused; no Kubernetes object a drill needs comes close.
const MAX_BODY: usize = 8 * 1024 * 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/drill/requests", get(list_requests).delete(clear_requests))
        .route(
            "/drill/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route(
            "/drill/deny",
            get(list_denies).post(add_deny).delete(clear_denies),
        )
        .route("/drill/latency", post(set_latency))
        .route(
            "/version",
            get(|| async { json_response(StatusCode::OK, &discovery::version()) }),
        )
        .route(
            "/openapi/v3",
            get(|| async { json_response(StatusCode::OK, &crate::openapi::index()) }),
        )
        .route(
            "/openapi/v3/{*gv}",
            get(
                |axum::extract::Path(gv): axum::extract::Path<String>| async move {
                    match crate::openapi::document(&gv) {
                        Ok(doc) => json_response(StatusCode::OK, &doc),
                        Err(e) => e.into_response(),
                    }
                },
            ),
        )
        .fallback(api)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// After shutdown nothing is answered: the request hangs until its connection is dropped.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.is_down() {
        std::future::pending::<()>().await;
    }
    let latency = if request.method() == Method::GET {
        &shared.read_latency_ms
    } else {
        &shared.write_latency_ms
    };
    let delay = latency.load(std::sync::atomic::Ordering::Relaxed);
    if delay > 0 && !request.uri().path().starts_with("/drill/") {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    next.run(request).await
}

/// `POST /drill/latency {"ms": N, "reads": false}`: every change (and with `reads`, every
/// read too) takes N ms more, to drill a slow API server.
async fn set_latency(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Latency {
        ms: u64,
        #[serde(default)]
        reads: bool,
    }
    match control_json::<Latency>(&body, "latency") {
        Ok(l) => {
            let relaxed = std::sync::atomic::Ordering::Relaxed;
            shared.write_latency_ms.store(l.ms, relaxed);
            shared
                .read_latency_ms
                .store(if l.reads { l.ms } else { 0 }, relaxed);
            json_response(StatusCode::OK, &json!({ "ms": l.ms, "reads": l.reads }))
        }
        Err(e) => e.into_response(),
    }
}

fn control_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    let requests: Vec<RecordedRequest> = shared.lock().requests.iter().cloned().collect();
    json_response(StatusCode::OK, &json!(requests))
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().requests.clear();
    json_response(StatusCode::OK, &json!({}))
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &json!(shared.lock().access.faults))
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let added = control_json::<Fault>(&body, "fault").and_then(|fault| {
        shared
            .lock()
            .access
            .add_fault(fault.clone())
            .map(|()| fault)
    });
    match added {
        Ok(fault) => json_response(StatusCode::CREATED, &json!(fault)),
        Err(e) => e.into_response(),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().access.faults.clear();
    json_response(StatusCode::OK, &json!({}))
}

async fn list_denies(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &json!(shared.lock().access.denies))
}

async fn add_deny(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match control_json::<Deny>(&body, "denial") {
        Ok(deny) => {
            shared.lock().access.denies.push(deny.clone());
            json_response(StatusCode::CREATED, &json!(deny))
        }
        Err(e) => e.into_response(),
    }
}

async fn clear_denies(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().access.denies.clear();
    json_response(StatusCode::OK, &json!({}))
}

/// Every path that is not a control endpoint: discovery and the Kubernetes resources.
async fn api(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::new(
            413,
            "RequestEntityTooLarge",
            "the request body is too large or could not be read",
        )
        .into_response();
    };
    let query: Query = match QueryExtractor::<HashMap<String, String>>::try_from_uri(&parts.uri) {
        Ok(QueryExtractor(q)) => q,
        Err(e) => {
            return ApiError::bad_request(format!("invalid query string: {e}")).into_response();
        }
    };
    let route = path::parse(parts.uri.path());
    let discovery = |value: Result<Value, ApiError>| -> Response {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return ApiError::method_not_allowed().into_response();
        }
        match value {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => e.into_response(),
        }
    };
    match route {
        Route::CoreVersions => discovery(Ok(discovery::core_versions(&shared.addr.to_string()))),
        Route::Groups => discovery(Ok(discovery::groups())),
        Route::Group(group) => discovery(discovery::group(&group)),
        Route::Resources { group, version } => discovery(discovery::resources(&group, &version)),
        Route::NotFound => ApiError::no_route().into_response(),
        Route::Resource(target) => {
            let (timing, response) = resource(
                &shared,
                &parts.method,
                &parts.headers,
                &target,
                &query,
                &body,
            );
            if let Some(delay) = timing.delay {
                tokio::time::sleep(delay).await;
            }
            match timing.trickle {
                Some(every) => trickle(response, every).await,
                None => response,
            }
        }
    }
}

fn flag(query: &Query, key: &str) -> bool {
    query.get(key).is_some_and(|v| v == "true" || v == "1")
}

/// The same answer, its body sent one byte every `every`.
async fn trickle(response: Response, every: std::time::Duration) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("the drill could not read its own answer").into_response();
    };
    let stream = futures::stream::unfold(0usize, move |at| {
        let bytes = bytes.clone();
        async move {
            let byte = bytes.slice(at..(at + 1).min(bytes.len()));
            if byte.is_empty() {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok::<_, std::io::Error>(byte), at + 1))
        }
    });
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

/// Records the request, applies denials and faults, then serves it; with how an injected
/// fault holds the answer back.
fn resource(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    target: &ResourcePath,
    query: &Query,
    body: &[u8],
) -> (Timing, Response) {
    let request = RecordedRequest {
        verb: record::verb(method, target.name.is_some(), flag(query, "watch")),
        group: target.group.clone(),
        resource: target.resource.clone(),
        subresource: target.subresource.clone().unwrap_or_default(),
        namespace: target.namespace.clone().unwrap_or_default(),
        name: target.name.clone().unwrap_or_default(),
        dry_run: crud::dry_run(query),
    };
    let attributes = Attributes::of(&request, target.name.as_deref().unwrap_or(""));
    let mut cluster = shared.lock();
    cluster.record(request);
    if let Some(deny) = cluster.access.denial(&attributes) {
        return (
            Timing::default(),
            faults::forbidden(&attributes, deny).into_response(),
        );
    }
    let injected = cluster.access.take_fault(&attributes);
    let timing = injected.as_ref().map(|i| i.timing).unwrap_or_default();
    if let Some(error) = injected.and_then(|i| i.error) {
        return (timing, error.into_response());
    }
    let Some(rt) = catalog::find(&target.group, &target.version, &target.resource) else {
        return (timing, ApiError::no_route().into_response());
    };
    let call = Call {
        rt,
        target,
        method,
        headers,
        query,
        body,
    };
    let response = match call.serve(&mut cluster, shared) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    (timing, response)
}

/// One resource request, once routed to a type.
struct Call<'a> {
    rt: &'static ResourceType,
    target: &'a ResourcePath,
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a Query,
    body: &'a [u8],
}

fn ok(value: &Value) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, value))
}

fn created(value: &Value) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::CREATED, value))
}

impl Call<'_> {
    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn serve(&self, cluster: &mut Cluster, shared: &Shared) -> Result<Response, ApiError> {
        let rt = self.rt;
        let namespace = self.target.namespace.as_deref();
        // Namespaced objects are addressed inside a namespace; cluster-scoped ones never are.
        if (rt.namespaced && namespace.is_none() && self.target.name.is_some())
            || (!rt.namespaced && namespace.is_some())
        {
            return Err(ApiError::no_route());
        }
        let ns = namespace.unwrap_or("");
        match (
            self.target.subresource.as_deref(),
            self.target.name.as_deref(),
        ) {
            // Logging in to a container changes the evidence: a drill records the attempt
            // (the game day's scorecard names it) and refuses it as least privilege would.
            (Some(sub @ ("exec" | "attach")), Some(name)) if rt.kind == "Pod" => {
                Err(ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "pods \"{name}\" is forbidden: {sub} into a container under investigation changes its evidence; this drill recorded the attempt"
                    ),
                ))
            }
            (None, None) => self.collection(cluster, shared, namespace),
            (None, Some(name)) => self.object(cluster, shared, ns, name),
            (Some(sub), Some(name)) if rt.has_subresource(sub) => {
                if sub != "proxy" && !self.target.rest.is_empty() {
                    return Err(ApiError::no_route());
                }
                self.subresource(cluster, ns, name, sub)
            }
            _ => Err(ApiError::no_route()),
        }
    }

    fn collection(
        &self,
        cluster: &mut Cluster,
        shared: &Shared,
        namespace: Option<&str>,
    ) -> Result<Response, ApiError> {
        let rt = self.rt;
        let store = &mut cluster.store;
        if !rt.stored {
            return match *self.method {
                Method::POST if self.content_type().contains("protobuf") => {
                    // `kubectl auth can-i` sends its review as protobuf.
                    let review = crate::protobuf::self_subject_access_review(self.body)
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "error decoding SelfSubjectAccessReview: malformed protobuf body",
                            )
                        })?;
                    created(&faults::review(
                        &cluster.access,
                        review.to_string().as_bytes(),
                    )?)
                }
                Method::POST => created(&faults::review(&cluster.access, self.body)?),
                _ => Err(ApiError::method_not_allowed()),
            };
        }
        match *self.method {
            Method::GET if flag(self.query, "watch") => {
                let body =
                    watch::start(store, rt, namespace, self.query, shared.shutdown_signal())?;
                let mut response = Response::new(body);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Ok(response)
            }
            Method::GET if crate::table::wanted(self.headers) => {
                let list = crud::list(store, rt, namespace, self.query)?;
                let items = list["items"].as_array().cloned().unwrap_or_default();
                let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("");
                ok(&crate::table::of(rt, &items, rv))
            }
            Method::GET => ok(&crud::list(store, rt, namespace, self.query)?),
            Method::POST => match namespace {
                None if rt.namespaced => Err(ApiError::method_not_allowed()),
                ns => created(&crud::create(
                    store,
                    rt,
                    ns.unwrap_or(""),
                    self.body,
                    self.query,
                )?),
            },
            Method::DELETE => ok(&crud::delete_collection(
                store, rt, namespace, self.body, self.query,
            )?),
            _ => Err(ApiError::method_not_allowed()),
        }
    }

    fn object(
        &self,
        cluster: &mut Cluster,
        shared: &Shared,
        ns: &str,
        name: &str,
    ) -> Result<Response, ApiError> {
        let rt = self.rt;
        if !rt.stored {
            return Err(ApiError::method_not_allowed());
        }
        let store = &mut cluster.store;
        match *self.method {
            Method::GET if flag(self.query, "watch") => {
                // Watching one object is watching the collection for its name.
                let mut query = self.query.clone();
                let mut selector = format!("metadata.name={name}");
                if let Some(more) = query.get("fieldSelector").filter(|s| !s.is_empty()) {
                    selector = format!("{more},{selector}");
                }
                query.insert("fieldSelector".into(), selector);
                let namespace = rt.namespaced.then_some(ns);
                let body = watch::start(store, rt, namespace, &query, shared.shutdown_signal())?;
                let mut response = Response::new(body);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Ok(response)
            }
            Method::GET if crate::table::wanted(self.headers) => {
                let one = crud::get(store, rt, ns, name)?;
                let rv = store.resource_version().to_string();
                ok(&crate::table::of(rt, &[one], &rv))
            }
            Method::GET => ok(&crud::get(store, rt, ns, name)?),
            Method::PUT => ok(&crud::replace(
                store, rt, ns, name, None, self.body, self.query,
            )?),
            Method::PATCH => {
                let (obj, was_created) = crud::patch(
                    store,
                    rt,
                    ns,
                    name,
                    None,
                    self.content_type(),
                    self.body,
                    self.query,
                )?;
                if was_created { created(&obj) } else { ok(&obj) }
            }
            Method::DELETE => ok(&crud::delete(store, rt, ns, name, self.body, self.query)?),
            _ => Err(ApiError::method_not_allowed()),
        }
    }

    fn subresource(
        &self,
        cluster: &mut Cluster,
        ns: &str,
        name: &str,
        sub: &str,
    ) -> Result<Response, ApiError> {
        let rt = self.rt;
        let store = &mut cluster.store;
        let method = self.method.clone();
        match (sub, method) {
            ("status", Method::GET) => ok(&crud::get(store, rt, ns, name)?),
            ("status", Method::PUT) => ok(&crud::replace(
                store,
                rt,
                ns,
                name,
                Some("status"),
                self.body,
                self.query,
            )?),
            ("status", Method::PATCH) => {
                let (obj, _) = crud::patch(
                    store,
                    rt,
                    ns,
                    name,
                    Some("status"),
                    self.content_type(),
                    self.body,
                    self.query,
                )?;
                ok(&obj)
            }
            ("scale", Method::GET) => ok(&scale::get(store, rt, ns, name)?),
            ("scale", Method::PUT) => {
                ok(&scale::replace(store, rt, ns, name, self.body, self.query)?)
            }
            ("scale", Method::PATCH) => ok(&scale::patch(
                store,
                rt,
                ns,
                name,
                self.content_type(),
                self.body,
                self.query,
            )?),
            ("log", Method::GET) => Ok(text_response(
                StatusCode::OK,
                kubelet::logs(store, ns, name, self.query)?,
            )),
            ("eviction", Method::POST) => created(&eviction::evict(
                store,
                ns,
                name,
                self.body,
                crud::dry_run(self.query),
            )?),
            ("proxy", Method::POST) => match kubelet::checkpoint(store, name, &self.target.rest)? {
                KubeletAnswer::Json(code, value) => Ok(json_response(code, &value)),
                KubeletAnswer::Text(code, text) => Ok(text_response(code, text)),
            },
            ("proxy", _) => Ok(text_response(
                StatusCode::NOT_FOUND,
                "404 page not found\n".to_string(),
            )),
            _ => Err(ApiError::method_not_allowed()),
        }
    }
}
