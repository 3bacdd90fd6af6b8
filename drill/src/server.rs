//! Binding, serving and stopping the drill API server, and the handle tests hold.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::catalog;
use crate::faults::Access;
use crate::record::RecordedRequest;
use crate::routes;
use crate::scenario::Scenario;
use crate::store::Store;

/// Enough history for any test or drill; the oldest entries go first beyond it.
const MAX_RECORDED: usize = 100_000;

/// Everything a request may read or change, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    pub store: Store,
    pub access: Access,
    pub requests: VecDeque<RecordedRequest>,
}

impl Cluster {
    pub fn record(&mut self, request: RecordedRequest) {
        if self.requests.len() == MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }
}

pub(crate) struct Shared {
    cluster: Mutex<Cluster>,
    shutdown: watch::Sender<bool>,
    pub addr: SocketAddr,
    /// Added before every change (POST, PUT, PATCH, DELETE), to drill a slow API server.
    pub write_latency_ms: std::sync::atomic::AtomicU64,
    /// Added before every read (GET) too, when set.
    pub read_latency_ms: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// The cluster state; a handler that panicked cannot leave it half-written in a way that
    /// matters more than refusing every later request would.
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// Resolves once the server has been shut down (or the signal is gone).
pub(crate) async fn until_down(signal: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is not Send; drop it here, not in the caller's select.
    let _ = signal.wait_for(|down| *down).await;
}

/// A simulated Kubernetes API server.
pub struct DrillServer;

impl DrillServer {
    /// Loads `scenario`, binds `addr` (port 0 picks a free port) and serves in a background task.
    pub async fn start(scenario: Scenario, addr: SocketAddr) -> std::io::Result<DrillHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, _) = watch::channel(false);
        let mut cluster = Cluster::default();
        scenario.load_into(&mut cluster.store);
        let shared = Arc::new(Shared {
            cluster: Mutex::new(cluster),
            shutdown,
            addr,
            write_latency_ms: std::sync::atomic::AtomicU64::new(0),
            read_latency_ms: std::sync::atomic::AtomicU64::new(0),
        });
        tokio::spawn(serve(listener, shared.clone()));
        Ok(DrillHandle { shared })
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let router = routes::router(shared.clone());
    let mut down = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            () = until_down(&mut down) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Running out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "drill server accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.is_down() {
            break;
        }
        // As the real API server does: small responses go out at once instead of waiting on
        // the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut conn_down = shared.shutdown_signal();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // On shutdown the connection is dropped mid-flight, as a dead apiserver's would be.
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "drill connection ended with an error");
                    }
                }
                () = until_down(&mut conn_down) => {}
            }
        });
    }
    // Dropping the listener here is what makes new connections be refused.
    drop(listener);
}

/// A running drill server.
#[derive(Clone)]
pub struct DrillHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DrillHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrillHandle")
            .field("addr", &self.shared.addr)
            .finish()
    }
}

impl DrillHandle {
    /// `http://127.0.0.1:PORT`, ready for `kube::Config::new`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Every Kubernetes API request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    /// The stored object, e.g. `object("apps/v1", "Deployment", "payments", "api")`; the
    /// namespace is ignored for cluster-scoped kinds.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let rt = catalog::by_kind(api_version, kind)?;
        let namespace = if rt.namespaced { namespace } else { "" };
        self.shared.lock().store.get(rt, namespace, name).cloned()
    }

    /// Creates `obj` as a POST from outside would (a game day's "a pod appears"): validated,
    /// given a uid and, for a pod, started on its node. Returns the stored object, or the
    /// API server's message.
    pub fn create(&self, obj: Value) -> Result<Value, String> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let rt = catalog::by_kind(api_version, kind)
            .filter(|rt| rt.stored)
            .ok_or_else(|| format!("the drill API server has no kind {kind} in {api_version}"))?;
        let ns = if rt.namespaced {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let mut cluster = self.shared.lock();
        crate::crud::create_object(&mut cluster.store, rt, &ns, obj, false).map_err(|e| e.message)
    }

    /// Stops answering: open connections are dropped and new ones refused.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
    }
}
