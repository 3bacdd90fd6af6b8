//! `?watch=true`: newline-delimited watch events, replayed from the change log then live.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::catalog::ResourceType;
use crate::crud::Query;
use crate::meta;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::until_down;
use crate::status::ApiError;
use crate::store::{Change, Store};

/// Watches end by themselves, as the apiserver's do, so clients re-list now and then.
const DEFAULT_TIMEOUT: u64 = 300;
const MAX_TIMEOUT: u64 = 1800;

struct Filter {
    rt: &'static ResourceType,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn wants(&self, change: &Change) -> bool {
        change.group == self.rt.group
            && change.plural == self.rt.plural
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == change.namespace)
            && self.labels.matches(meta::labels(&change.object))
            && self.fields.matches(&change.object)
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({ "type": kind, "object": object }).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Starts a watch; the returned body streams until the timeout, the client leaving, or shutdown.
pub fn start(
    store: &Store,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    query: &Query,
    shutdown: watch::Receiver<bool>,
) -> Result<Body, ApiError> {
    let filter = Filter {
        rt,
        namespace: namespace.map(str::to_string),
        labels: LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))?,
        fields: FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str), rt)?,
    };
    let timeout = match query.get("timeoutSeconds") {
        None => DEFAULT_TIMEOUT,
        Some(t) => t
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?
            .min(MAX_TIMEOUT),
    };
    let from = query.get("resourceVersion").map_or("", String::as_str);
    let initial = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let mut backlog: Vec<Bytes> = Vec::new();
    if from.is_empty() || from == "0" || initial {
        for obj in store.list(rt, namespace) {
            if filter.labels.matches(meta::labels(obj)) && filter.fields.matches(obj) {
                backlog.push(line("ADDED", obj));
            }
        }
        if initial {
            let bookmark = json!({
                "apiVersion": rt.api_version(),
                "kind": rt.kind,
                "metadata": {
                    "resourceVersion": store.resource_version().to_string(),
                    "annotations": { "k8s.io/initial-events-end": "true" },
                },
            });
            backlog.push(line("BOOKMARK", &bookmark));
        }
    } else {
        let since: u64 = from
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {from:?}")))?;
        match store.changes_since(since) {
            Some(changes) => backlog.extend(
                changes
                    .iter()
                    .filter(|c| filter.wants(c))
                    .map(|c| line(c.kind.as_str(), &c.object)),
            ),
            None => {
                let gone = ApiError::new(
                    410,
                    "Expired",
                    format!(
                        "too old resource version: {since} ({})",
                        store.resource_version()
                    ),
                );
                backlog.push(line("ERROR", &gone.to_status()));
                let (tx, rx) = mpsc::channel(backlog.len().max(1));
                for b in backlog {
                    let _ = tx.try_send(Ok::<_, Infallible>(b));
                }
                return Ok(Body::from_stream(ReceiverStream::new(rx)));
            }
        }
    }
    let changes = store.subscribe();
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(pump(filter, backlog, changes, tx, shutdown, timeout));
    Ok(Body::from_stream(ReceiverStream::new(rx)))
}

async fn pump(
    filter: Filter,
    backlog: Vec<Bytes>,
    mut changes: broadcast::Receiver<Arc<Change>>,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    mut shutdown: watch::Receiver<bool>,
    timeout: u64,
) {
    for b in backlog {
        if tx.send(Ok(b)).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(Duration::from_secs(timeout));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            () = until_down(&mut shutdown) => return,
            change = changes.recv() => match change {
                Ok(change) if filter.wants(&change) => {
                    if tx.send(Ok(line(change.kind.as_str(), &change.object))).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let gone = ApiError::new(410, "Expired", "watch fell behind; re-list");
                    let _ = tx.send(Ok(line("ERROR", &gone.to_status()))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
