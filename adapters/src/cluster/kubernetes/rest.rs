//! Kubernetes REST calls through `kube::Client`, on JSON values, with retries where safe.

use http::Request;
use serde_json::Value;
use warroom_commands::command::ObjectKind;

use super::errors::{describe, retry};
use crate::cluster::ClusterError;

/// One cluster's client and name (for messages).
#[derive(Clone)]
pub struct Rest {
    pub cluster: String,
    pub client: kube::Client,
}

/// The API path of an object, or of its collection when `name` is empty.
pub fn path(kind: ObjectKind, namespace: &str, name: &str) -> String {
    let (prefix, plural) = match kind {
        ObjectKind::Pod => ("/api/v1", "pods"),
        ObjectKind::Node => ("/api/v1", "nodes"),
        ObjectKind::Deployment => ("/apis/apps/v1", "deployments"),
        ObjectKind::StatefulSet => ("/apis/apps/v1", "statefulsets"),
        ObjectKind::DaemonSet => ("/apis/apps/v1", "daemonsets"),
        ObjectKind::ReplicaSet => ("/apis/apps/v1", "replicasets"),
    };
    let ns = if kind.is_namespaced() {
        format!("/namespaces/{namespace}")
    } else {
        String::new()
    };
    if name.is_empty() {
        format!("{prefix}{ns}/{plural}")
    } else {
        format!("{prefix}{ns}/{plural}/{name}")
    }
}

/// Percent-encode a query value (selectors hold `=`, `,`, `!`).
pub fn query(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Rest {
    async fn call(
        &self,
        what: &str,
        build: impl Fn() -> Request<Vec<u8>>,
    ) -> Result<Value, kube::Error> {
        let _ = what;
        retry(|| self.client.request::<Value>(build())).await
    }

    pub fn fail(&self, what: &str, e: &kube::Error) -> ClusterError {
        describe(&self.cluster, what, e)
    }

    pub async fn get(&self, path: &str) -> Result<Value, kube::Error> {
        self.call("get", || {
            Request::get(path).body(Vec::new()).unwrap_or_default()
        })
        .await
    }

    pub async fn list(&self, path: &str, params: &str) -> Result<Vec<Value>, kube::Error> {
        let url = if params.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{params}")
        };
        let list = self
            .call("list", || {
                Request::get(url.as_str())
                    .body(Vec::new())
                    .unwrap_or_default()
            })
            .await?;
        Ok(list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// JSON merge patch (RFC 7386): sets and removes (null) exactly the given fields.
    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Result<Value, kube::Error> {
        self.send_merge_patch(path, patch, true).await
    }

    /// One merge patch, retried where safe; with `conflicts` false a 409 is final.
    async fn send_merge_patch(
        &self,
        path: &str,
        patch: &Value,
        conflicts: bool,
    ) -> Result<Value, kube::Error> {
        let body = patch.to_string().into_bytes();
        super::errors::retry_with(
            || {
                self.client.request::<Value>(
                    Request::patch(path)
                        .header(http::header::CONTENT_TYPE, "application/merge-patch+json")
                        .body(body.clone())
                        .unwrap_or_default(),
                )
            },
            conflicts,
        )
        .await
    }

    /// [`Rest::merge_patch`] of the object with `uid`, the one that was approved: the uid
    /// goes into the patch, so an object made since under the same name (a StatefulSet's
    /// `db-0` replaced between the check and the write) is refused by the API server and left
    /// as it was. That refusal is final, never retried. Without a uid, a plain merge patch.
    pub async fn merge_patch_of(
        &self,
        path: &str,
        uid: Option<&str>,
        patch: &Value,
    ) -> Result<Value, kube::Error> {
        let Some(uid) = uid.filter(|u| !u.is_empty()) else {
            return self.merge_patch(path, patch).await;
        };
        let mut patch = patch.clone();
        if let Some(fields) = patch.as_object_mut()
            && let Some(meta) = fields
                .entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()))
                .as_object_mut()
        {
            meta.insert("uid".into(), Value::String(uid.to_owned()));
        }
        self.send_merge_patch(path, &patch, false).await
    }

    pub async fn create(&self, path: &str, object: &Value) -> Result<Value, kube::Error> {
        let body = object.to_string().into_bytes();
        // Not retried blindly: a lost reply could mean it was created. AlreadyExists is handled
        // by the caller.
        self.client
            .request::<Value>(
                Request::post(path)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .unwrap_or_default(),
            )
            .await
    }

    pub async fn delete(&self, path: &str, options: &Value) -> Result<Value, kube::Error> {
        let body = options.to_string().into_bytes();
        super::errors::retry_with(
            || {
                self.client.request::<Value>(
                    Request::delete(path)
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                        .unwrap_or_default(),
                )
            },
            false,
        )
        .await
    }

    /// A raw POST whose answer is text (kubelet proxy).
    pub async fn post_text(&self, path: &str) -> Result<String, kube::Error> {
        self.client
            .request_text(Request::post(path).body(Vec::new()).unwrap_or_default())
            .await
    }

    pub async fn get_text(&self, path: &str) -> Result<String, kube::Error> {
        self.client
            .request_text(Request::get(path).body(Vec::new()).unwrap_or_default())
            .await
    }
}
