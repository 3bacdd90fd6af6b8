//! Cross-site and DNS-rebinding defence for the console and the command API.
//!
//! Guarantees: a request whose `Host` is not an IP literal, `localhost` or one of the plan's
//! `[console] public_names` is answered 421 (a rebound DNS name cannot reach the API); a
//! request whose `Origin` is present and not this server's own is 403 (another site's page
//! cannot drive it from a browser); a request with a body that is not `application/json` is
//! 415 (no HTML form can post a command, since forms cannot send that type without CORS,
//! which warroom never grants). Assumes: TLS and the public name are handled by a proxy that
//! keeps the client's `Host`. Caveat: clients that send no `Origin` (curl, the CLI) are not
//! affected; they must still authenticate outside drill mode.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::api::answer;

/// The host names a browser may use to reach this server.
#[derive(Debug, Clone)]
pub struct Allowed {
    public_names: Vec<String>,
}

impl Allowed {
    pub fn new(public_names: &[String]) -> Arc<Allowed> {
        Arc::new(Allowed {
            public_names: public_names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
        })
    }

    /// Whether a `Host` value (name or address, optional port) names this server.
    pub fn host_ok(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            // [v6]:port
            Some(rest) => rest.split(']').next().unwrap_or_default().to_owned(),
            None => host
                .rsplit_once(':')
                .map_or(host.as_str(), |(n, _)| n)
                .to_owned(),
        };
        // An address cannot be rebound; a name can, unless it is ours.
        name.parse::<IpAddr>().is_ok() || name == "localhost" || self.public_names.contains(&name)
    }
}

pub async fn guard(State(allowed): State<Arc<Allowed>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    if !allowed.host_ok(&host) {
        return answer(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "Host `{host}` is not this warroom's: use its address, localhost, or a name listed in the plan's [console] public_names"
            ),
        );
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        let own = ["http://", "https://"]
            .iter()
            .any(|scheme| origin.strip_prefix(scheme) == Some(host.to_ascii_lowercase().as_str()));
        if !own {
            return answer(
                StatusCode::FORBIDDEN,
                format!(
                    "cross-site request refused: Origin `{origin}` is not this console's own (http(s)://{host})"
                ),
            );
        }
    }
    let has_body = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if has_body && req.uri().path().starts_with("/api/") {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return answer(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with `Content-Type: application/json`",
            );
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_addresses_localhost_or_public_names() {
        let a = Allowed::new(&["Warroom.Example.com".to_owned()]);
        for ok in [
            "127.0.0.1:8686",
            "localhost:8686",
            "LOCALHOST",
            "[::1]:8686",
            "10.0.0.5:80",
            "warroom.example.com",
            "warroom.example.com:443",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "attacker.example:8686",
            "",
            "warroom.example.com.evil",
            "127.0.0.1.nip.io",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
    }
}
