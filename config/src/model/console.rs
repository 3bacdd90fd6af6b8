//! `[console]`: the web console and HTTP command API.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::ids::PersonId;
use crate::secret::SecretRef;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// Where `warroom serve` listens; loopback unless the plan says otherwise.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// API tokens, each acting as one person. Outside drill mode nobody acts without one.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    /// Host names the console is reached by through a proxy (e.g. "warroom.example.com").
    /// Requests naming any other host are refused (DNS-rebinding defence); addresses and
    /// `localhost` always work.
    #[serde(default)]
    pub public_names: Vec<String>,
    /// The console's address as people reach it (e.g. "https://warroom.example.com"): pages
    /// and chat messages link to incidents under it. Without it, links use `listen`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// What one caller may take of the server: connections, time, requests per second.
    #[serde(default)]
    pub limits: Limits,
}

/// `[console.limits]`: defences against callers that hold connections open (slowloris),
/// trickle bodies, or flood the intake and command endpoints. The defaults hold a busy
/// Alertmanager and a Slack workspace comfortably.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Connections open at once; one more is answered 503 and closed.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// A request's headers must have arrived this long after its first byte (or after the
    /// connection opened); else the connection is closed.
    #[serde(
        default = "default_header_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub header_timeout: Duration,
    /// A request's whole body must have arrived within this; else 408.
    #[serde(
        default = "default_body_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub body_timeout: Duration,
    /// Requests per second one address may send to the alert intake, the command API and
    /// the chat endpoints (sustained; 0 turns the limit off). Beyond it: 429 with
    /// `Retry-After`.
    #[serde(default = "default_per_source")]
    pub per_source: u32,
    /// How many requests one address may send at once above `per_source`.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// How much of an IPv6 address counts as one sender, in bits: 64 (one host can send
    /// from any address of its /64), or 128 where the senders are pods of an IPv6 cluster
    /// that share a /64 (EKS gives each node a /80 of its subnet's /64).
    #[serde(default = "default_ipv6_prefix")]
    pub ipv6_prefix: u8,
}

fn default_connections() -> usize {
    4096
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_body_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_per_source() -> u32 {
    200
}
fn default_burst() -> u32 {
    400
}
fn default_ipv6_prefix() -> u8 {
    64
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: default_connections(),
            header_timeout: default_header_timeout(),
            body_timeout: default_body_timeout(),
            per_source: default_per_source(),
            burst: default_burst(),
            ipv6_prefix: default_ipv6_prefix(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub person: PersonId,
    pub token: SecretRef,
}

impl Console {
    /// The console's page for `incident`: `public_url` (or `http://listen`) + `/#/INC-…`.
    pub fn incident_link(&self, incident: &str) -> String {
        let base = match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        };
        format!("{base}/#/{incident}")
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8686";

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8686))
}

impl Default for Console {
    fn default() -> Self {
        Console {
            listen: default_listen(),
            public_names: Vec::new(),
            public_url: None,
            tokens: Vec::new(),
            limits: Limits::default(),
        }
    }
}
