//! Events warroom acts on: 📌 on a message in an incident channel puts that message in the
//! timeline (its own author, time and permalink); `@warroom …` runs a command and answers
//! in the thread.

use chrono::{DateTime, Utc};
use warroom_adapters::chat::slack::payloads::{AppMention, Event, ReactionAdded, ReactionItem};
use warroom_commands::Event as TimelineEvent;

use super::SlackInbound;

/// The reaction that means "put this in the timeline" (📌).
pub const PIN_REACTION: &str = "pushpin";
/// Longest message text kept in a timeline entry; the permalink leads to the whole.
const MAX_PINNED_CHARS: usize = 3000;

impl SlackInbound {
    pub(super) async fn act_on(&self, event: Event) {
        match event {
            Event::ReactionAdded(r) if r.reaction == PIN_REACTION => self.pinned(r).await,
            Event::AppMention(m) => self.mentioned(m).await,
            _ => {}
        }
    }

    async fn pinned(&self, reaction: ReactionAdded) {
        let ReactionItem::Message { channel, ts } = &reaction.item else {
            return;
        };
        let Some(incident) = self.engine.incident_of_channel("slack", channel) else {
            tracing::debug!(channel, "📌 outside an incident channel; ignored");
            return;
        };
        let Some(person) = self.person(&reaction.user) else {
            tracing::warn!(user = %reaction.user, "📌 by a Slack user not in the plan; not recorded");
            return;
        };
        match self.pinned_event(channel, ts).await {
            Ok(event) => {
                let reply = self.engine.add_to_timeline(&person, &incident, event).await;
                if !reply.ok {
                    tracing::warn!(incident = %incident, message = %reply.message, "📌 not recorded");
                }
            }
            Err(e) => {
                tracing::warn!(incident = %incident, error = %e, "📌 message cannot be read; not recorded")
            }
        }
    }

    async fn pinned_event(
        &self,
        channel: &str,
        ts: &str,
    ) -> Result<TimelineEvent, warroom_adapters::chat::ChatError> {
        let message = self.chat.message(channel, ts).await?;
        let permalink = self
            .chat
            .permalink(&warroom_adapters::chat::MessageRef {
                platform: "slack",
                channel: channel.to_owned(),
                id: ts.to_owned(),
            })
            .await?;
        let author = match self.person(&message.user) {
            Some(p) => format!("person:{p}"),
            None => format!("slack:{}", message.user),
        };
        Ok(TimelineEvent::MessagePinned {
            platform: "slack".into(),
            channel: channel.to_owned(),
            message: ts.to_owned(),
            author,
            posted_at: ts_to_rfc3339(ts).unwrap_or_else(|| ts.to_owned()),
            text: message.text.chars().take(MAX_PINNED_CHARS).collect(),
            permalink,
        })
    }

    async fn mentioned(&self, mention: AppMention) {
        let thread = mention.thread_ts.clone().unwrap_or(mention.ts.clone());
        let answer = match self.person(&mention.user) {
            None => crate::inbound::not_in_plan("slack", &mention.user),
            Some(person) => {
                let text = strip_mentions(&mention.text);
                let text = if text.is_empty() {
                    "help".to_owned()
                } else {
                    text
                };
                let incident = self.engine.incident_of_channel("slack", &mention.channel);
                // Claimed as the event; the command itself runs as any other.
                self.path.run(person, text, incident, None).await
            }
        };
        if let Err(e) = self
            .chat
            .post_in_thread(&mention.channel, &thread, &answer)
            .await
        {
            tracing::warn!(error = %e, "cannot answer the mention");
        }
    }
}

/// `<@U0LAN0Z89> status` → `status`: the leading mentions of the bot are not the command.
fn strip_mentions(text: &str) -> String {
    let mut rest = text.trim();
    while let Some(after) = rest.strip_prefix("<@") {
        match after.find('>') {
            Some(end) => rest = after[end + 1..].trim_start(),
            None => break,
        }
    }
    rest.trim().to_owned()
}

/// Slack's `ts` (`1700000000.000100`, seconds.microseconds) as RFC 3339.
fn ts_to_rfc3339(ts: &str) -> Option<String> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let micros: u32 = format!("{micros:0<6}").get(..6)?.parse().ok()?;
    let at: DateTime<Utc> = DateTime::from_timestamp(secs, micros * 1000)?;
    Some(warroom_commands::clock::timestamp(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_mentions_are_not_part_of_the_command() {
        assert_eq!(strip_mentions("<@U0LAN0Z89> status"), "status");
        assert_eq!(
            strip_mentions("  <@U1> <@U2>  note hi <@U3>"),
            "note hi <@U3>"
        );
        assert_eq!(strip_mentions("<@U1>"), "");
        assert_eq!(strip_mentions("<@U1 broken"), "<@U1 broken");
    }

    #[test]
    fn slack_timestamps_become_rfc3339_with_microseconds() {
        assert_eq!(
            ts_to_rfc3339("1700000000.000100").as_deref(),
            Some("2023-11-14T22:13:20.000100Z")
        );
        assert_eq!(
            ts_to_rfc3339("1700000000").as_deref(),
            Some("2023-11-14T22:13:20.000000Z")
        );
        assert_eq!(ts_to_rfc3339("x.1"), None);
        assert_eq!(ts_to_rfc3339("99999999999999999.1"), None);
    }
}
