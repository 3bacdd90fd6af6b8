//! Who is calling the HTTP API.
//!
//! Drill mode: the caller says who they are (the page offers the plan's people), because a
//! drill is practice on a simulated cluster. Otherwise every call carries a bearer token; each
//! plan token acts as one person, and the local token in `<data>/serve.json` (readable only by
//! the user running warroom) lets the CLI on the same machine read and export, nothing more.

use std::collections::HashMap;

use axum::http::HeaderMap;
use warroom_commands::PersonId;
use warroom_config::Plan;

/// The caller, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Drill mode: anyone, acting as the person they name.
    Drill,
    /// A plan token: acts as this person.
    Person(PersonId),
    /// The local CLI: reads and exports only.
    LocalReader,
}

pub struct Tokens {
    drill: bool,
    by_token: HashMap<String, PersonId>,
    local: String,
}

impl Tokens {
    /// Resolve the plan's tokens. A token whose secret cannot be read is skipped with a
    /// warning (that person cannot use the API), not fatal: the rest of warroom still works.
    pub fn from_plan(plan: &Plan, local: String) -> Tokens {
        let mut by_token = HashMap::new();
        let mut refused = Vec::new();
        for t in &plan.console.tokens {
            match t.token.resolve() {
                Ok(secret) if secret.len() >= 16 => {
                    // One secret for two people would let one act as the other: use neither.
                    if let Some(other) = by_token.get(&secret)
                        && other != &t.person
                    {
                        tracing::error!(first = %other, second = %t.person, "two people share one API token; it is refused for both");
                        refused.push(secret);
                        continue;
                    }
                    by_token.insert(secret, t.person.clone());
                }
                Ok(_) => {
                    tracing::warn!(person = %t.person, "API token shorter than 16 characters ignored")
                }
                // In drill mode nobody needs a token, so a missing one is not worth a warning.
                Err(e) if plan.is_drill() => {
                    tracing::debug!(person = %t.person, error = %e, "API token not available")
                }
                Err(e) => {
                    tracing::warn!(person = %t.person, error = %e, "API token not available; this person cannot use the API")
                }
            }
        }
        for secret in refused {
            by_token.remove(&secret);
        }
        Tokens {
            drill: plan.is_drill(),
            by_token,
            local,
        }
    }

    pub fn is_drill(&self) -> bool {
        self.drill
    }

    /// From `Authorization: Bearer …`, never from the URL.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, String> {
        let given = bearer(headers).filter(|t| !t.is_empty());
        match given {
            Some(t) if secrets_match(t, &self.local) => Ok(Caller::LocalReader),
            Some(t) => match self.by_token.iter().find(|(k, _)| secrets_match(k, t)) {
                Some((_, p)) => Ok(Caller::Person(p.clone())),
                None => Err("the bearer token is not one of the plan's [[console.tokens]]".to_owned()),
            },
            None if self.drill => Ok(Caller::Drill),
            None => Err("a bearer token is required outside drill mode: send `Authorization: Bearer TOKEN` with a token from the plan's [[console.tokens]]".to_owned()),
        }
    }
}

/// The one comparison for every secret (tokens, routing keys): it compares SHA-256 digests
/// in constant time, so the time taken depends neither on where the strings differ nor on
/// their lengths.
pub fn secrets_match(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The credentials of `Authorization: Bearer …`; the scheme is case-insensitive (RFC 7235).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_start();
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// 32 random bytes as hex, from the kernel.
pub fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_tokens_match() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("abc", "abcd"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for (value, want) in [
            ("Bearer x", Some("x")),
            ("BEARER x", Some("x")),
            ("bearer  x ", Some("x")),
            ("bEaReR x", Some("x")),
            ("Basic x", None),
            ("Bearer", None),
            ("Bearerx", None),
        ] {
            let mut h = HeaderMap::new();
            h.insert("authorization", value.parse().unwrap());
            assert_eq!(bearer(&h), want, "{value}");
        }
    }
}
