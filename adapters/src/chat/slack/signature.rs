//! Slack's request signing, version `v0`: every webhook Slack sends carries
//! `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + body)>`
//! and `X-Slack-Request-Timestamp: <unix seconds>`.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far the request timestamp may be from now, either way (Slack's recommendation).
pub const MAX_SKEW_SECS: i64 = 5 * 60;

const VERSION: &str = "v0";

/// Why a request is not accepted as coming from Slack. Each one means 401, nothing recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("{TIMESTAMP_HEADER} is not a unix time in seconds: `{0}`")]
    BadTimestamp(String),
    /// `age_secs` is now minus the request's timestamp: negative when it claims to be from the future.
    #[error(
        "request timestamp is {age_secs} s from now (limit {MAX_SKEW_SECS} s): stale or replayed"
    )]
    Stale { age_secs: i64 },
    #[error("signature does not match the request")]
    Mismatch,
}

/// Checks that `body` was sent by Slack, signed with `signing_secret`, within
/// [`MAX_SKEW_SECS`] of `now` (unix seconds).
///
/// Guarantees: `Ok` only if the signature is a valid `v0` HMAC-SHA256 over exactly these bytes
/// and this timestamp; the comparison takes the same time wherever the first wrong byte is.
/// Assumes: `body` is the raw body as received (before any decoding or re-serialising) and
/// `now` comes from a trustworthy clock.
/// An empty secret verifies nothing (a missing setting must not mean "anyone may sign").
/// Caveat: a replay inside the 5-minute window passes; callers dedupe by trigger/event id.
pub fn verify(
    signing_secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = headers
        .get(TIMESTAMP_HEADER)
        .ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
    let timestamp = timestamp.to_str().map_err(|_| {
        SignatureError::BadTimestamp(String::from_utf8_lossy(timestamp.as_bytes()).into_owned())
    })?;
    let sent_at = parse_timestamp(timestamp)?;
    let age_secs = now.saturating_sub(sent_at);
    if age_secs.saturating_abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale { age_secs });
    }
    if signing_secret.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    let claimed = signature
        .to_str()
        .ok()
        .and_then(|s| s.strip_prefix("v0="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(SignatureError::Mismatch)?;
    // `verify_slice` compares in constant time (and rejects a wrong length).
    mac(signing_secret, timestamp, body)
        .ok_or(SignatureError::Mismatch)?
        .verify_slice(&claimed)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` value Slack would send for this timestamp and body.
pub fn sign(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let digest = mac(signing_secret, timestamp, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{VERSION}={digest}")
}

/// `None` never happens (HMAC takes keys of any length); it keeps this path panic-free.
fn mac(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret).ok()?;
    mac.update(VERSION.as_bytes());
    mac.update(b":");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    Some(mac)
}

/// Digits only: `str::parse` would also take `+`/`-` signs, which Slack never sends.
fn parse_timestamp(s: &str) -> Result<i64, SignatureError> {
    let bad = || SignatureError::BadTimestamp(s.chars().take(40).collect());
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    s.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &[u8] = include_bytes!("fixtures/slash-command.form");
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        h
    }

    #[test]
    fn slacks_published_example_signs_and_verifies() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/signature-vector.json")).unwrap();
        assert_eq!(vector["body"].as_str().unwrap().as_bytes(), BODY);
        assert_eq!(vector["X-Slack-Signature"], EXPECTED);
        assert_eq!(sign(SECRET, TIMESTAMP, BODY), EXPECTED);
        let now = 1_531_420_618 + 10;
        assert_eq!(
            verify(SECRET, &headers(TIMESTAMP, EXPECTED), BODY, now),
            Ok(())
        );
    }

    /// Our check and slack-morphism's verifier agree on what Slack signed (the Socket Mode
    /// path goes through slack-morphism; both must accept and refuse the same requests).
    #[test]
    fn agrees_with_slack_morphisms_verifier() {
        use slack_morphism::prelude::SlackSigningSecret;
        use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
        let body = std::str::from_utf8(BODY).unwrap();
        let now = chrono::Utc::now().timestamp();
        let ts = now.to_string();
        let theirs = SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
            String::from_utf8(SECRET.to_vec()).unwrap(),
        ));
        let good = sign(SECRET, &ts, BODY);
        assert!(theirs.verify(&good, body, &ts).is_ok());
        assert_eq!(verify(SECRET, &headers(&ts, &good), BODY, now), Ok(()));
        let forged = sign(b"another secret", &ts, BODY);
        assert!(theirs.verify(&forged, body, &ts).is_err());
        assert!(verify(SECRET, &headers(&ts, &forged), BODY, now).is_err());
        let old = (now - 301).to_string();
        let stale = sign(SECRET, &old, BODY);
        assert!(theirs.verify(&stale, body, &old).is_err());
        assert!(verify(SECRET, &headers(&old, &stale), BODY, now).is_err());
    }

    #[test]
    fn a_changed_body_secret_or_signature_is_a_mismatch() {
        let now = 1_531_420_618;
        let h = headers(TIMESTAMP, EXPECTED);
        let mut body = BODY.to_vec();
        body.push(b'x');
        assert_eq!(
            verify(SECRET, &h, &body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another secret", &h, BODY, now),
            Err(SignatureError::Mismatch)
        );
        let unsigned = headers(TIMESTAMP, &sign(b"", TIMESTAMP, BODY));
        assert_eq!(
            verify(b"", &unsigned, BODY, now),
            Err(SignatureError::Mismatch)
        );
        for bad in [
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b5",
            "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            "v0=not hex",
            "v0=",
            "",
        ] {
            assert_eq!(
                verify(SECRET, &headers(TIMESTAMP, bad), BODY, now),
                Err(SignatureError::Mismatch),
                "{bad}"
            );
        }
    }

    #[test]
    fn timestamps_more_than_five_minutes_away_either_way_are_stale() {
        let sent = 1_531_420_618;
        let h = headers(TIMESTAMP, EXPECTED);
        assert_eq!(verify(SECRET, &h, BODY, sent + 300), Ok(()));
        assert_eq!(verify(SECRET, &h, BODY, sent - 300), Ok(()));
        assert_eq!(
            verify(SECRET, &h, BODY, sent + 301),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify(SECRET, &h, BODY, sent - 301),
            Err(SignatureError::Stale { age_secs: -301 })
        );
        // A fresh timestamp does not rescue a signature made for an old one.
        let fresh = headers("1531430000", EXPECTED);
        assert_eq!(
            verify(SECRET, &fresh, BODY, 1_531_430_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_headers_and_bad_timestamps_are_named() {
        let now = 1_531_420_618;
        let mut h = headers(TIMESTAMP, EXPECTED);
        h.remove(SIGNATURE_HEADER);
        assert_eq!(
            verify(SECRET, &h, BODY, now),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(SECRET, &HeaderMap::new(), BODY, now),
            Err(SignatureError::Missing(TIMESTAMP_HEADER))
        );
        for bad in [
            "",
            "+1531420618",
            "-5",
            "1531420618.5",
            "soon",
            "99999999999999999999",
        ] {
            assert!(
                matches!(
                    verify(SECRET, &headers(bad, EXPECTED), BODY, now),
                    Err(SignatureError::BadTimestamp(_))
                ),
                "{bad}"
            );
        }
        let mut odd = headers(TIMESTAMP, EXPECTED);
        odd.insert(TIMESTAMP_HEADER, HeaderValue::from_bytes(b"\xff1").unwrap());
        assert!(matches!(
            verify(SECRET, &odd, BODY, now),
            Err(SignatureError::BadTimestamp(_))
        ));
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        let h = headers(TIMESTAMP, EXPECTED);
        assert!(matches!(
            verify(SECRET, &h, BODY, i64::MIN),
            Err(SignatureError::Stale { .. })
        ));
        assert!(matches!(
            verify(SECRET, &h, BODY, i64::MAX),
            Err(SignatureError::Stale { .. })
        ));
    }
}
