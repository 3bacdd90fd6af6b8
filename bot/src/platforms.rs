//! The chat platforms the plan configures, built from one list. Each is set up from the plan
//! before the engine exists (its chat joins the engine's list), then started once the engine
//! does: it receives signed requests at `/<platform>/<endpoint>` on warroom's own server, or
//! keeps a connection of its own (Slack's Socket Mode, Discord's gateway). Whatever it
//! receives goes through the one inbound path (`crate::inbound`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use warroom_adapters::chat::Chat;
use warroom_config::LoadedPlan;

use crate::engine::Engine;

/// A platform as the plan configures it: `Ok(None)` when the plan leaves it out, `Err` naming
/// the setting that cannot be used.
pub type FromPlan = Result<Option<Box<dyn Platform>>, String>;

/// One platform, set up from the plan and not yet receiving.
#[async_trait]
pub trait Platform: Send {
    /// `slack`, `discord`: the chat's platform and the first segment of its URLs.
    fn name(&self) -> &'static str;
    fn chat(&self) -> Arc<dyn Chat>;
    /// Start receiving, now that the engine exists; what it did is said at start.
    async fn start(self: Box<Self>, engine: Arc<Engine>) -> Receiving;
}

/// How a started platform receives.
#[derive(Default)]
pub struct Receiving {
    /// Signed requests to `/<platform>/…` on warroom's server, when the platform takes them.
    pub http: Option<Arc<dyn HttpReceiver>>,
    /// A connection the platform keeps, closed when warroom stops.
    pub connection: Option<Box<dyn Connection>>,
}

/// A platform's endpoints on warroom's server.
#[async_trait]
pub trait HttpReceiver: Send + Sync {
    /// One request to `/<platform>/<endpoint>`: verified before anything is parsed, then
    /// decoded and answered.
    async fn receive(&self, endpoint: &str, headers: &HeaderMap, body: Bytes) -> Response;
}

/// A connection a platform keeps open (Slack's Socket Mode).
#[async_trait]
pub trait Connection: Send + Sync {
    async fn close(&self);
}

/// The started platforms: receivers by platform name, and the connections to close.
#[derive(Default)]
pub struct Started {
    pub http: BTreeMap<&'static str, Arc<dyn HttpReceiver>>,
    pub connections: Vec<Box<dyn Connection>>,
}

/// Every platform the plan configures, when warroom may reach outside; a setting that cannot
/// be used is said at start and that platform stays off.
pub fn from_plan(plan: &LoadedPlan, outside: bool) -> Vec<Box<dyn Platform>> {
    if !outside {
        return Vec::new();
    }
    let built: [(&str, FromPlan); 2] = [
        ("Slack", crate::slack::platform(plan)),
        ("Discord", crate::discord::platform(plan)),
    ];
    built
        .into_iter()
        .filter_map(|(label, setup)| match setup {
            Ok(found) => found,
            Err(why) => {
                crate::logging::notice_warn(&format!("{label} not started: {why}"));
                None
            }
        })
        .collect()
}

/// Start each platform once the engine exists.
pub async fn start(platforms: Vec<Box<dyn Platform>>, engine: &Arc<Engine>) -> Started {
    let mut started = Started::default();
    let any = !platforms.is_empty();
    for p in platforms {
        let name = p.name();
        let receiving = p.start(engine.clone()).await;
        if let Some(http) = receiving.http {
            started.http.insert(name, http);
        }
        started.connections.extend(receiving.connection);
    }
    if any {
        // Open incidents' channels are found again from the ledger.
        engine.rejoin_channels();
    }
    started
}

/// Why `/<platform>/…` has nobody to answer here, and what to set.
pub fn not_receiving(platform: &str) -> String {
    match platform {
        "slack" => "Slack requests are not taken here: the plan needs [communication.slack] (mode = \"http\") with bot_token and signing_secret that can be read (in Socket Mode requests come over the socket)".into(),
        "discord" => "Discord interactions are not taken here: the plan needs [communication.discord] (mode = \"http\") with application_id, public_key, bot_token and guild_id (in gateway mode they come over the gateway)".into(),
        other => format!("`{other}` is not a chat platform warroom knows"),
    }
}
