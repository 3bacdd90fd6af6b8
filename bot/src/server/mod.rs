//! The long-running HTTP server.

mod health;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use tracing::{Instrument, info, info_span};
use warroom_config::LoadedPlan;
use warroom_ledger::Ledger;

use crate::context;

/// State shared by the handlers.
pub struct AppState {
    pub plan: LoadedPlan,
    /// Set once the ledger is open; `/readyz` answers 503 until then.
    pub ledger: OnceLock<Arc<Ledger>>,
    pub started: std::time::Instant,
}

pub async fn serve(listen: SocketAddr, dir: PathBuf, plan: LoadedPlan) -> anyhow::Result<()> {
    let state = Arc::new(AppState {
        plan,
        ledger: OnceLock::new(),
        started: std::time::Instant::now(),
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (use --listen ADDR:PORT)"))?;
    let bound = listener.local_addr()?;
    eprintln!("warroom: listening on http://{bound} (GET /healthz, /readyz, /metrics)");
    info!(%bound, "listening");

    // Liveness first, readiness when the ledger is open: an orchestrator can tell a slow
    // start from a dead process.
    let opener = {
        let state = state.clone();
        let span = info_span!("ledger_open", dir = %dir.display());
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let ledger = context::open_ledger(&dir)?;
            let _ = state.ledger.set(Arc::new(ledger));
            Ok::<_, warroom_ledger::LedgerError>(())
        })
        .instrument(span)
    };
    let app = health::router(state.clone());
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal());
    let server = tokio::spawn(async move { server.await });
    opener
        .await
        .context("ledger opener stopped")?
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let ready = state.started.elapsed();
    eprintln!("warroom: ready in {} ms", ready.as_millis());
    info!(ready_ms = ready.as_millis() as u64, "ready");
    server.await??;
    eprintln!("warroom: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    info!("shutting down");
}
