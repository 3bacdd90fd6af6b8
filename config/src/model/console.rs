//! `[console]`: the web console and HTTP command API.

use std::net::SocketAddr;

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
        }
    }
}
