//! Discord's request signature: Ed25519 over `X-Signature-Timestamp` + the raw body, checked
//! with the application's public key (serenity's `interactions_endpoint::Verifier`) before
//! anything is parsed. Discord itself does not bound the timestamp; warroom refuses one more
//! than five minutes from its clock, so a captured request cannot be replayed later.

use serenity::interactions_endpoint::Verifier;

/// How far a request's timestamp may be from warroom's clock.
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Signature-Ed25519 or X-Signature-Timestamp header")]
    Missing,
    #[error("X-Signature-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("X-Signature-Timestamp is more than 5 minutes from warroom's clock")]
    Stale,
    #[error("the signature does not match the body and the application's public key")]
    Mismatch,
}

/// A checker for one application's public key (64 hex digits).
pub struct DiscordVerifier(Verifier);

impl DiscordVerifier {
    pub fn new(public_key_hex: &str) -> Result<Self, String> {
        let bytes = hex::decode(public_key_hex.trim())
            .map_err(|e| format!("public_key is not hex: {e}"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "public_key must be 32 bytes (64 hex digits)".to_owned())?;
        Verifier::try_new(key)
            .map(DiscordVerifier)
            .map_err(|e| format!("public_key is not an Ed25519 key: {e}"))
    }

    /// Check one request at `now` (Unix seconds).
    pub fn check(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(SignatureError::Missing);
        };
        let at: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        // abs_diff: `now - at` overflows for a timestamp near i64::MIN.
        if now.abs_diff(at) > MAX_SKEW_SECS.unsigned_abs() {
            return Err(SignatureError::Stale);
        }
        self.0
            .verify(signature, timestamp, body)
            .map_err(|()| SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "62937154bdfd60e39acd6517d0962e879b2c3970e29dcbf0465c275398d06d24";
    const AT: &str = "1721936669";
    const SIG: &str = "b8270d26694ec75990d7cc7dae65de6625787f42400599d36c14760309a31bf5efa7d14a8abbdee5d2aad0c7e2f627ee16922251a5658d57d2e68f70f57fb10f";

    /// The published vector (copied from the fixtures shared with Discord's docs).
    fn body() -> String {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/ping-signature-vector.json")).unwrap();
        vector["body"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_published_vector_verifies_and_any_change_is_refused() {
        let v = DiscordVerifier::new(KEY).unwrap();
        let body = body();
        let now = AT.parse().unwrap();
        assert_eq!(v.check(Some(SIG), Some(AT), body.as_bytes(), now), Ok(()));
        let mut changed = body.clone().into_bytes();
        changed[10] ^= 1;
        assert_eq!(
            v.check(Some(SIG), Some(AT), &changed, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.check(Some(SIG), Some(AT), body.as_bytes(), now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            v.check(None, Some(AT), body.as_bytes(), now),
            Err(SignatureError::Missing)
        );
        // Timestamps at the ends of i64: stale, not an overflow.
        for far in ["-9223372036854775808", "9223372036854775807"] {
            assert_eq!(
                v.check(Some(SIG), Some(far), body.as_bytes(), now),
                Err(SignatureError::Stale)
            );
        }
        let other = DiscordVerifier::new(
            "54AEBA4C254D6A570F0F874D524C0ECE2E7C9EEC9DC8E35CFC62FC43DFAB0E34",
        )
        .unwrap();
        assert_eq!(
            other.check(Some(SIG), Some(AT), body.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
        assert!(DiscordVerifier::new("abc").is_err());
    }
}
