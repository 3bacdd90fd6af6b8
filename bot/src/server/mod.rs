//! The long-running HTTP server: health, the web console, the command API.

mod alerts;
mod api;
mod auth;
mod chat_http;
mod console;
pub mod discord_http;
mod evidence;
mod forward;
mod gameday;
mod health;
mod limits;
mod listener;
mod same_origin;
pub mod slack_http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use tokio::sync::broadcast;
use tracing::{Instrument, info, info_span};
use warroom_adapters::chat::Chat;
use warroom_adapters::chat::console::{Change, ConsoleChat};
use warroom_commands::Clock;
use warroom_config::LoadedPlan;
use warroom_ledger::Ledger;

use crate::context;
use crate::engine::Engine;

/// State shared by the handlers.
pub struct AppState {
    pub plan: Arc<LoadedPlan>,
    /// Set once the ledger is open; `/readyz` answers 503 until then.
    pub ledger: OnceLock<Arc<Ledger>>,
    /// Set once the engine runs; the API answers 503 until then.
    pub ready: OnceLock<Arc<Ready>>,
    pub started: std::time::Instant,
    /// Becomes true on SIGTERM/SIGINT: long-lived responses (event streams) end at once so
    /// the process can exit well within Kubernetes' grace period.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The ledger's off-box copy, when the plan keeps one (`[ha]`).
    pub copy: OnceLock<Arc<crate::ledger_copy::CopyState>>,
    /// With `[ha] lease`: what this replica waits for while another leads.
    pub standby: std::sync::Mutex<Option<crate::leadership::Standby>>,
    /// With `[ha] lease`, while a standby: how far its copy of the ledger is.
    pub warm: OnceLock<Arc<crate::warm_copy::WarmStatus>>,
    /// Connections served and refused (`[console.limits] connections`).
    pub connections: Arc<listener::Connections>,
    /// Per-source rates and body deadlines (`[console.limits]`).
    pub guard: Arc<limits::Guard>,
    /// The game day on the drill cluster: unset while a scenario's script waits for warroom
    /// to be ready (the scorecard answers "starting"), then the run, or `None` when there is
    /// no script or it could not start.
    pub game: OnceLock<Option<Arc<crate::gameday::Run>>>,
    /// A drill's hand-moved clock (`warroom drill --manual-clock`).
    pub manual_clock: Option<Arc<warroom_commands::ManualClock>>,
}

/// How long shutdown waits for requests in flight before the process exits anyway.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(4);

/// What the API needs once the ledger is open.
pub struct Ready {
    pub engine: Arc<Engine>,
    pub console: Arc<ConsoleChat>,
    pub changes: broadcast::Sender<Change>,
    pub tokens: auth::Tokens,
    /// Drill mode: the simulated API servers, by cluster name.
    pub drills: Vec<(String, warroom_drill::DrillHandle)>,
    /// The chat platforms the plan configures, started: their endpoints and connections.
    pub platforms: crate::platforms::Started,
    /// Alert intake credentials, per source.
    pub intake: alerts::IntakeKeys,
    /// Where artifacts are, to re-hash them on `/api/v1/ledger/verify`.
    pub evidence: Arc<dyn warroom_adapters::evidence::EvidenceStore>,
}

/// Extracts [`Ready`], or answers 503 while warroom is starting.
pub struct ReadyState(pub Arc<Ready>);

impl FromRequestParts<Arc<AppState>> for ReadyState {
    type Rejection = Response;

    async fn from_request_parts(_: &mut Parts, state: &Arc<AppState>) -> Result<Self, Response> {
        state.ready.get().cloned().map(ReadyState).ok_or_else(|| {
            let standby = state
                .standby
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            api::answer(
                StatusCode::SERVICE_UNAVAILABLE,
                match standby {
                    Some(s) => format!(
                        "this replica is a {}; send requests to the leader (the Service does)",
                        s.why
                    ),
                    None => "warroom is starting: the ledger is not open yet; retry in a moment"
                        .to_owned(),
                },
            )
        })
    }
}

/// Options of `warroom serve` and `warroom drill`.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub dir: PathBuf,
    /// Drill mode's simulated cluster (`warroom drill --scenario`); the built-in payments
    /// scenario when `None`.
    pub scenario: Option<warroom_drill::Scenario>,
    /// How long a drain retries evictions a disruption budget refuses.
    pub drain_timeout: std::time::Duration,
    /// The clock of the engine and the ledger: the system's, or a drill's.
    pub clock: Arc<dyn Clock>,
    /// A drill's clock that moves only when told (`POST /api/v1/drill/clock`).
    pub manual_clock: Option<Arc<warroom_commands::ManualClock>>,
    /// A game day's clock speed (1 real time; 0 with a manual clock).
    pub speed: u32,
}

/// Where a running server tells local CLI commands how to reach it.
pub const SERVER_FILE: &str = "serve.json";

pub async fn serve(opts: ServeOptions, plan: LoadedPlan) -> anyhow::Result<()> {
    let dir = opts.dir.clone();
    // Clusters first, so a drill's API servers are up (and printed) before anything else.
    let mut clusters = if plan.plan.is_drill() {
        let scenario = opts
            .scenario
            .clone()
            .unwrap_or_else(warroom_drill::Scenario::payments);
        let c = crate::clusters::drill(&plan, &dir, scenario).await?;
        for (name, handle) in &c.drills {
            crate::logging::notice_info(&format!(
                "drill cluster {name}: simulated Kubernetes API at {}",
                handle.url()
            ));
        }
        c
    } else {
        crate::clusters::real(&plan, &dir).await
    };
    clusters.kube.drain_timeout = opts.drain_timeout;
    let plan_limits = plan.plan.console.limits.clone();
    let state = Arc::new(AppState {
        plan: Arc::new(plan),
        ledger: OnceLock::new(),
        ready: OnceLock::new(),
        started: std::time::Instant::now(),
        stopping: tokio::sync::watch::channel(false).0,
        copy: OnceLock::new(),
        standby: std::sync::Mutex::new(None),
        warm: OnceLock::new(),
        connections: Arc::default(),
        guard: limits::Guard::new(&plan_limits),
        game: match opts.scenario.as_ref().and_then(|s| s.game_day()) {
            Some(_) => OnceLock::new(),
            None => OnceLock::from(None),
        },
        manual_clock: opts.manual_clock.clone(),
    });
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (use --listen ADDR:PORT or [console] listen)",
                opts.listen
            )
        })?;
    let bound = listener.local_addr()?;
    crate::logging::notice_info(&format!(
        "listening on http://{bound} (console at /, API at /api/v1, GET /healthz, /readyz, /metrics)"
    ));
    if !bound.ip().is_loopback() {
        crate::logging::notice_warn(&format!(
            "NOTE: {bound} is reachable from other machines; put TLS in front of it"
        ));
    }

    // Liveness first, readiness when the ledger is open: an orchestrator can tell a slow
    // start from a dead process.
    // With a lease, only the leader opens the ledger: a standby waits here, serving
    // /healthz and saying who leads.
    let opener = {
        let state = state.clone();
        let span = info_span!("ledger_open", dir = %dir.display());
        let dir = dir.clone();
        let clock = opts.clock.clone();
        async move {
            let mut leading = None;
            if let Some(ha) = &state.plan.plan.ha
                && let Some(lease) = &ha.lease
            {
                let address = advertised(bound);
                let mut takeover = crate::leadership::wait_to_lead(
                    lease,
                    ha,
                    &dir,
                    &address,
                    &state.standby,
                    &state.warm,
                )
                .await?;
                let (dir, warm, head) = (dir.clone(), takeover.warm.take(), takeover.head.clone());
                let reached = tokio::task::spawn_blocking(move || match warm {
                    Some(warm) => crate::leadership::adopt_copy(&dir, warm, head.as_ref()),
                    None => Ok(None),
                })
                .await??;
                leading = Some((takeover, reached, lease.clone(), address));
            }
            // A leader holds its Lease while it waits: half the Lease, so it renews in time.
            let at_most = state
                .plan
                .plan
                .ha
                .as_ref()
                .and_then(|ha| ha.lease.as_ref())
                .map_or(std::time::Duration::MAX, |l| l.duration / 2);
            let ledger = tokio::task::spawn_blocking(move || {
                context::open_ledger_for_server(&dir, clock, at_most).map(Arc::new)
            })
            .await??;
            let mut lead = None;
            if let Some((takeover, reached, lease, address)) = leading {
                let copy = state.clone();
                let elector = crate::leadership::keep_leading(
                    takeover.elector,
                    takeover.acquired,
                    ledger.clone(),
                    lease,
                    address,
                    move || copy.copy.get().and_then(|c| c.head()),
                );
                lead = Some(Lead {
                    elector,
                    from: takeover.from,
                    published: takeover.head,
                    reached,
                });
            }
            *state.standby.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let _ = state.ledger.set(ledger.clone());
            Ok::<_, anyhow::Error>((ledger, lead))
        }
        .instrument(span)
    };
    let opener = tokio::spawn(opener);
    let allowed = same_origin::Allowed::new(&state.plan.plan.console.public_names);
    let browser_facing = console::router().merge(api::router(state.clone())).layer(
        axum::middleware::from_fn_with_state(allowed, same_origin::guard),
    );
    let app = health::router(state.clone())
        .merge(browser_facing)
        .merge(chat_http::router(state.clone()))
        .merge(alerts::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::to_leader,
        ))
        // Outermost: a caller over its rate is refused before anything else runs.
        .layer(axum::middleware::from_fn_with_state(
            state.guard.clone(),
            limits::guard,
        ));
    // SIGTERM/SIGINT: stop taking connections, end event streams, finish what is in flight.
    tokio::spawn({
        let state = state.clone();
        async move {
            shutdown_signal().await;
            state.stopping.send_replace(true);
        }
    });
    let server = listener::serve(
        listener,
        app,
        state.plan.plan.console.limits.clone(),
        state.connections.clone(),
        state.stopping.subscribe(),
    );
    let mut stopping = state.stopping.subscribe();
    // Graceful, but bounded: a client that holds a response open cannot keep warroom up.
    let server = tokio::spawn(async move {
        tokio::select! {
            () = server => Ok::<(), std::io::Error>(()),
            () = async {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; stopping anyway");
                Ok(())
            }
        }
    });
    let (ledger, lead) = opener
        .await
        .context("ledger opener stopped")?
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    if let Some(ha) = &state.plan.plan.ha {
        use warroom_config::model::ha::{Ack, WhenUnreachable};
        let replicated = ha.ack == Ack::Replicated;
        let copy = crate::ledger_copy::start(
            &ledger,
            crate::ledger_copy::bucket_of(ha),
            replicated && ha.when_unreachable == WhenUnreachable::Refuse,
        )
        .context("cannot start the ledger's copy to its bucket")?;
        crate::logging::notice_info(&format!(
            "ledger copied to {} ({})",
            copy.location,
            if replicated {
                "ack = replicated: a write is acknowledged once its segment is uploaded"
            } else {
                "ack = leader: durable here, then uploaded"
            }
        ));
        let _ = state.copy.set(copy);
    }

    let ready = start_engine(&state, ledger, clusters, &opts, bound).await?;
    let engine = ready.engine.clone();
    let _ = state.ready.set(ready);
    let took = state.started.elapsed();
    crate::logging::notice_info(&format!("ready in {} ms", took.as_millis()));
    if let Some(lead) = &lead {
        announce_takeover(&engine, lead).await;
    }
    let _ = state.game.set(start_game_day(&state, &opts));
    let result = server.await;
    if let Some(Some(run)) = state.game.get() {
        run.stop().await;
    }
    if let Some(ready) = state.ready.get() {
        for c in &ready.platforms.connections {
            c.close().await;
        }
    }
    if let Some(lead) = &lead
        && let Some(ledger) = state.ledger.get()
    {
        crate::leadership::step_down(&lead.elector, ledger, state.copy.get().map(|c| &**c)).await;
    }
    let _ = std::fs::remove_file(dir.join(SERVER_FILE));
    result??;
    crate::logging::notice_info("stopped");
    Ok(())
}

/// A scenario with a script: its game day starts once warroom is ready, on the cluster the
/// scenario was loaded into (the plan's first). `None` when there is none to start.
fn start_game_day(state: &Arc<AppState>, opts: &ServeOptions) -> Option<Arc<crate::gameday::Run>> {
    let (Some(ready), Some(game)) = (
        state.ready.get(),
        opts.scenario.as_ref().and_then(|s| s.game_day()),
    ) else {
        return None;
    };
    let (_, drill) = ready.drills.first()?;
    let deliver: crate::gameday::run::Deliver = {
        let state = state.clone();
        Arc::new(move |format, body| {
            let state = state.clone();
            Box::pin(async move {
                let ready = state
                    .ready
                    .get()
                    .cloned()
                    .ok_or_else(|| "warroom is not ready".to_string())?;
                alerts::deliver(&ready, format, &body).await
            })
        })
    };
    Some(crate::gameday::start(
        game.clone(),
        crate::gameday::RunSettings {
            engine: ready.engine.clone(),
            clock: opts.clock.clone(),
            drill: drill.clone(),
            deliver,
            targets: state.plan.plan.drill.targets.clone(),
            speed: opts.speed,
            out: opts.dir.join("drills"),
        },
    ))
}

/// This replica while it leads.
struct Lead {
    elector: Arc<warroom_adapters::lease::Elector>,
    /// The replica that led before, when this one saw it.
    from: Option<String>,
    /// The head it published, and the head this replica's copy reached.
    published: Option<warroom_ledger::segment::Head>,
    reached: Option<warroom_ledger::segment::Head>,
}

/// The address standbys forward to: the pod's IP in Kubernetes (`POD_IP`, from the downward
/// API) when listening on every interface, else the address bound.
fn advertised(bound: SocketAddr) -> String {
    match std::env::var("POD_IP") {
        Ok(ip) if bound.ip().is_unspecified() && !ip.is_empty() => {
            let ip = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip
            };
            format!("http://{ip}:{}", bound.port())
        }
        _ => format!("http://{bound}"),
    }
}

/// Tell every open incident's channel that this replica took over, and what it proved.
async fn announce_takeover(engine: &Arc<Engine>, lead: &Lead) {
    let who = &lead.elector.identity;
    let proof = match (&lead.published, &lead.reached) {
        (Some(p), _) => format!(
            "its copy of the ledger was read from the bucket and reaches segment {} (SHA-256 {}…), the head {} published",
            p.number,
            &p.digest[..12],
            lead.from.as_deref().unwrap_or("the previous leader")
        ),
        (None, Some(r)) => format!(
            "its copy of the ledger was read from the bucket to segment {} (SHA-256 {}…); no head was published to check it against",
            r.number,
            &r.digest[..12]
        ),
        (None, None) => "the bucket held no copy of the ledger yet".to_owned(),
    };
    let Some(from) = &lead.from else {
        return;
    };
    let text = format!(
        "warroom failover: {who} now leads, taking over from {from}; {proof}. Actions that were running on {from} are marked \"outcome unknown — verify\"."
    );
    crate::logging::notice_info(&text);
    let open = engine.ledger.incidents().unwrap_or_default();
    for r in open
        .iter()
        .filter(|r| r.status == warroom_commands::IncidentStatus::Open)
    {
        engine.post_to(&r.id, &text).await;
    }
}

async fn start_engine(
    state: &Arc<AppState>,
    ledger: Arc<Ledger>,
    clusters: crate::clusters::Clusters,
    opts: &ServeOptions,
    bound: SocketAddr,
) -> anyhow::Result<Arc<Ready>> {
    let plan = state.plan.clone();
    let clock = opts.clock.clone();
    let (changes, _) = broadcast::channel(1024);
    let console = Arc::new(ConsoleChat::new(clock.clone(), changes.clone()));
    let notify = {
        let changes = changes.clone();
        Arc::new(move |incident: Option<&warroom_commands::IncidentId>| {
            let _ = changes.send(Change {
                incident: incident.cloned(),
            });
        })
    };
    let mut chats: Vec<Arc<dyn Chat>> = vec![console.clone()];
    // A drill reaches nobody outside this machine unless the plan says so.
    let outside = plan.plan.notifies_outside();
    if !outside
        && (plan.plan.communication.slack.is_some()
            || plan.plan.communication.discord.is_some()
            || plan.plan.paging.pagerduty.is_some()
            || plan.plan.paging.email.is_some()
            || plan.plan.paging.webhook.is_some())
    {
        crate::logging::notice_info(
            "drill: Slack, Discord and pagers stay off (nobody outside this machine is contacted); set [drill] notify = true to include them, every message then starts with \"DRILL —\"",
        );
    }
    // Each chat platform the plan configures: set up, and its chat added to the engine's list
    // (marked "DRILL —" in a drill).
    let platforms = crate::platforms::from_plan(&plan, outside);
    let drill = plan.plan.is_drill();
    for chat in platforms.iter().map(|p| p.chat()) {
        chats.push(if drill {
            Arc::new(warroom_adapters::chat::drill::DrillChat(chat))
        } else {
            chat
        });
    }
    let drills = clusters.drills;
    let (pagers, problems) = if outside {
        crate::pagers::from_plan(&plan)
    } else {
        (Vec::new(), Vec::new())
    };
    for p in problems {
        crate::logging::notice_warn(&format!("pager not started: {p}"));
    }
    // Each action goes to its executor: the cluster's API server, or AWS.
    let kube: Arc<dyn warroom_adapters::cluster::Cluster> = Arc::new(clusters.kube);
    let evidence = crate::clusters::evidence_store(&plan, &opts.dir);
    let aws = crate::clusters::aws(&plan, kube.clone(), evidence.clone()).await;
    let executors = warroom_adapters::executors::Executors::new(kube, aws);
    let engine = Engine::new(
        plan.clone(),
        ledger,
        chats,
        Arc::new(executors),
        clock,
        notify,
        pagers,
    );
    let unknown = engine
        .recover()
        .await
        .context("cannot check for actions interrupted by a stop")?;
    if unknown > 0 {
        crate::logging::notice_warn(&format!(
            "{unknown} action(s) were running when warroom stopped: marked \"outcome unknown — verify\", not re-run"
        ));
    }
    let unpaged = engine.page_unpaged_alerts().await;
    if unpaged > 0 {
        crate::logging::notice_warn(&format!(
            "{unpaged} alert incident(s) were recorded but not yet paged when warroom stopped: paged now"
        ));
    }
    engine.start_sweeper();
    if plan.plan.is_drill() {
        crate::logging::notice_info(&format!(
            "DRILL MODE — open http://{bound}/ and pick who you are from the plan's people"
        ));
    }
    let (intake, problems) = alerts::IntakeKeys::from_plan(&plan);
    for p in problems {
        crate::logging::notice_warn(&format!("alert intake credential not used: {p}"));
    }
    let local = auth::random_token().context("cannot make the local access token")?;
    write_server_file(&opts.dir, bound, &local)?;
    let tokens = auth::Tokens::from_plan(&plan.plan, local);
    let platforms = crate::platforms::start(platforms, &engine).await;
    Ok(Arc::new(Ready {
        engine,
        console,
        changes,
        tokens,
        drills,
        platforms,
        intake,
        evidence,
    }))
}

/// `<data>/serve.json`, readable only by this user: how the CLI reaches this server.
fn write_server_file(dir: &Path, bound: SocketAddr, token: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(SERVER_FILE);
    let tmp = dir.join(format!(".{SERVER_FILE}.tmp"));
    let body = serde_json::json!({ "url": format!("http://{bound}"), "token": token, "pid": std::process::id() });
    // A leftover temp file would keep its old permissions: start from a new one.
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(body.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
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
