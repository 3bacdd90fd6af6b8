//! The paging outbox: what a page owes, per (person, channel), and where each delivery stands.
//!
//! A `page.sent` (or `page.follow_up`) entry lists the deliveries it owes before anyone is
//! contacted; `page.delivered`, `page.retrying` and `page.failed` entries settle them. The
//! record folds them into [`Outbox`], so after a restart every owed delivery that is not
//! settled is sent again (at least once), and the timeline says per person and channel what
//! became of the page.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warroom_config::PersonId;

use crate::event::EscalationStep;

/// One delivery a page owes: a channel (`pagerduty`, `email`, `webhook`, `slack`, …) and,
/// unless the channel pages a service rather than a person, the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonId>,
    /// For a follow-up: the page (`P2`) whose message it follows (e-mail thread, PagerDuty
    /// dedup key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
}

impl Delivery {
    /// The delivery's id within its incident: `P2/email/alice`, `P5/pagerduty/-@P2`.
    pub fn id(&self, page: &str) -> String {
        let person = self.person.as_ref().map(PersonId::as_str).unwrap_or("-");
        match &self.follows {
            Some(f) => format!("{page}/{}/{person}@{f}", self.channel),
            None => format!("{page}/{}/{person}", self.channel),
        }
    }
}

/// What a page (or follow-up) is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendKind {
    /// Wake people up.
    Page,
    /// Somebody acknowledged: the pages may stop.
    Acknowledged,
    /// The incident (or its alert) is resolved.
    Resolved,
}

impl std::fmt::Display for SendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendKind::Page => "page",
            SendKind::Acknowledged => "acknowledged",
            SendKind::Resolved => "resolved",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Recorded as owed; no answer from the channel yet.
    Owed,
    /// The channel refused or did not answer at least once; warroom keeps trying.
    Retrying,
    /// The channel accepted it.
    Delivered,
    /// Warroom gave up: the channel refused for good or for the whole retry window.
    Failed,
}

impl DeliveryState {
    pub fn is_settled(self) -> bool {
        matches!(self, DeliveryState::Delivered | DeliveryState::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Owed => "owed",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One owed delivery and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxItem {
    /// The page that owes it (`P2`).
    pub page: String,
    pub kind: SendKind,
    pub delivery: Delivery,
    /// The escalation step the page belongs to, if a policy paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<EscalationStep>,
    /// A page by hand: the words added; a follow-up: who acknowledged, or the resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub state: DeliveryState,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the page was recorded: the retry window counts from here.
    pub owed_at: DateTime<Utc>,
}

/// Every delivery an incident's pages owed, by id, in id order.
pub type Outbox = BTreeMap<String, OutboxItem>;

/// The deliveries not settled yet, oldest page first.
pub fn unsettled(outbox: &Outbox) -> impl Iterator<Item = (&String, &OutboxItem)> {
    outbox.iter().filter(|(_, i)| !i.state.is_settled())
}

/// Backoff between attempts of one delivery: exponential from one second, capped at a
/// minute, with "equal jitter" (half fixed, half spread by `jitter` in `[0, 1)`) so a burst
/// of failures does not retry in lockstep. A `Retry-After` from the channel is honoured:
/// the next attempt is never sooner, and only a little later (up to a tenth more).
pub fn retry_delay(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    if let Some(after) = retry_after {
        return after.mul_f64(1.0 + jitter / 10.0);
    }
    let exp = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(MAX_BACKOFF);
    exp.mul_f64(0.5 + jitter / 2.0)
}

/// The longest wait between two attempts without a `Retry-After`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A stable number in `[0, 1)` from a delivery id and attempt: jitter without a random
/// source, different for each delivery, the same if the computation is repeated.
pub fn jitter_for(delivery: &str, attempt: u32) -> f64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(delivery.as_bytes())
        .chain_update(attempt.to_be_bytes())
        .finalize();
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(eight) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_never_undercut() {
        for j in [0.0, 0.3, 0.99] {
            let d = retry_delay(1, Some(Duration::from_secs(1)), j);
            assert!(d >= Duration::from_secs(1), "{d:?}");
            assert!(d <= Duration::from_millis(1100), "{d:?}");
        }
    }

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let lows: Vec<Duration> = (1..=10).map(|a| retry_delay(a, None, 0.0)).collect();
        assert_eq!(lows[0], Duration::from_millis(500));
        assert_eq!(lows[1], Duration::from_secs(1));
        assert_eq!(lows[2], Duration::from_secs(2));
        assert!(lows.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            retry_delay(40, None, 0.999_999),
            MAX_BACKOFF.mul_f64(0.999_999_5)
        );
        let spread: std::collections::BTreeSet<u64> = (0..50)
            .map(|i| (jitter_for(&format!("P1/email/p{i}"), 1) * 1000.0) as u64)
            .collect();
        assert!(spread.len() > 40, "jitter spreads deliveries: {spread:?}");
        assert_eq!(jitter_for("P1/email/a", 2), jitter_for("P1/email/a", 2));
    }

    #[test]
    fn delivery_ids_name_page_channel_person_and_what_they_follow() {
        let d = Delivery {
            channel: "email".into(),
            person: Some("alice".into()),
            follows: None,
        };
        assert_eq!(d.id("P2"), "P2/email/alice");
        let f = Delivery {
            channel: "pagerduty".into(),
            person: None,
            follows: Some("P2".into()),
        };
        assert_eq!(f.id("P5"), "P5/pagerduty/-@P2");
    }
}
