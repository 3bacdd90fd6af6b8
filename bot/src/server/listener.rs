//! The accept loop: HTTP/1.1 connections served by hyper under `[console.limits]`.
//!
//! Guarantees: at most `connections` are served at once — one more is answered `503` with
//! `Retry-After: 1` and closed, never queued behind the others; a connection whose request
//! headers have not all arrived `header_timeout` after it started sending them (or after it
//! opened) is closed, so slow senders (slowloris) hold a connection for a bounded time and
//! cost no thread; on shutdown no new connection is taken and the open ones finish the
//! request in flight and close. Every request carries the peer's address (`ConnectInfo`).
//! Caveat: HTTP/2 is not spoken (Slack, Discord, Alertmanager, browsers and the CLI all use
//! HTTP/1.1 here; put a proxy in front for HTTP/2).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;
use warroom_config::model::console::Limits;

/// Connection counts for `/metrics`.
#[derive(Default)]
pub struct Connections {
    pub refused: AtomicU64,
    pub accepted: AtomicU64,
    open: std::sync::OnceLock<Arc<Semaphore>>,
    limit: std::sync::OnceLock<usize>,
}

impl Connections {
    pub fn open(&self) -> usize {
        match (self.open.get(), self.limit.get()) {
            (Some(s), Some(l)) => l.saturating_sub(s.available_permits()),
            _ => 0,
        }
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        format!(
            "# HELP warroom_http_connections_open HTTP connections open now.\n# TYPE warroom_http_connections_open gauge\nwarroom_http_connections_open {}\n\
# HELP warroom_http_connections_total HTTP connections accepted.\n# TYPE warroom_http_connections_total counter\nwarroom_http_connections_total {}\n\
# HELP warroom_http_connections_refused_total HTTP connections answered 503 because [console.limits] connections were open.\n# TYPE warroom_http_connections_refused_total counter\nwarroom_http_connections_refused_total {}\n",
            self.open(),
            self.accepted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// Serve `app` on `listener` until `stopping` turns true, then wait for the open connections
/// to finish their request in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    counts: Arc<Connections>,
    mut stopping: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.connections));
    let _ = counts.open.set(permits.clone());
    let _ = counts.limit.set(limits.connections);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: the next accept may succeed.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { stopping.wait_for(|s| *s).await.is_ok() } => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(refuse(stream));
            continue;
        };
        counts.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let http = http.clone();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    let Ok(response) = app.oneshot(req.map(Body::new)).await;
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = async { stopping.wait_for(|s| *s).await.is_ok() } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    // Every permit back: every connection closed.
    let _ = permits.acquire_many(limits.connections as u32).await;
}

/// Answer a connection over the limit without reading it, and close it.
async fn refuse(mut stream: TcpStream) {
    let body = "{\"ok\":false,\"message\":\"too many connections are open ([console.limits] connections); retry in a moment\"}\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
