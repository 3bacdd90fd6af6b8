//! Slack as a [`Chat`] platform: channels, invitations, messages and approval cards through
//! the Web API, with messages queued per channel.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;
use warroom_commands::{IncidentId, PersonId};

use super::blocks::{approval_blocks, fallback_text, text_blocks};
use super::names::validate_channel_name;
use super::queue::SendQueue;
use super::web_api::{ApiError, Args, DEFAULT_API_BASE, WebApi};
use crate::chat::{ApprovalCard, ChannelRef, Chat, ChatError, MessageRef};

const PLATFORM: &str = "slack";
/// The metadata event type of a page's direct message.
const PAGE_EVENT: &str = "warroom_page";
/// Slack's limit for a channel topic.
const MAX_TOPIC_CHARS: usize = 250;
/// Attempts for calls that have the same effect when repeated.
const ATTEMPTS: u32 = 3;
/// Messages longer than this are posted as their first lines plus the whole text as a file
/// snippet in the message's thread (needs `files:write`).
pub const SNIPPET_OVER_CHARS: usize = 6000;
/// How much of a long message stays in the channel itself.
const SNIPPET_HEAD_CHARS: usize = 2500;
/// Pages of `conversations.list` read when looking for a channel by name.
const MAX_LIST_PAGES: usize = 100;

/// How to reach Slack. `Debug` never shows the token.
#[derive(Clone)]
pub struct SlackConfig {
    /// `https://slack.com/api`, or a local stand-in.
    pub api_base: String,
    /// The bot token (`xoxb-…`), from the environment or a file, never from the plan.
    pub bot_token: String,
    /// Least time between two messages to one channel (Slack allows about one a second).
    pub send_interval: Duration,
    /// Longest a message may wait on rate limits before it is reported as not sent.
    pub max_rate_limit_wait: Duration,
    /// Bound on each Web API call.
    pub request_timeout: Duration,
}

impl SlackConfig {
    pub fn new(bot_token: impl Into<String>) -> Self {
        SlackConfig {
            api_base: DEFAULT_API_BASE.to_owned(),
            bot_token: bot_token.into(),
            send_interval: Duration::from_secs(1),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("api_base", &self.api_base)
            .field("bot_token", &"<redacted>")
            .field("send_interval", &self.send_interval)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// A message read back from Slack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackMessage {
    pub ts: String,
    /// The author's user id, or the bot id for bot messages.
    pub user: String,
    pub text: String,
}

impl SlackMessage {
    fn from_json(m: &Value) -> SlackMessage {
        let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let user = match field("user") {
            u if !u.is_empty() => u,
            _ => field("bot_id"),
        };
        SlackMessage {
            ts: field("ts"),
            user,
            text: field("text"),
        }
    }
}

pub struct SlackChat {
    api: Arc<WebApi>,
    queue: SendQueue,
    max_rate_limit_wait: Duration,
    slack_ids: HashMap<PersonId, String>,
    people: HashMap<String, PersonId>,
}

impl fmt::Debug for SlackChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackChat")
            .field("api", &self.api)
            .field("people", &self.slack_ids.len())
            .finish_non_exhaustive()
    }
}

impl SlackChat {
    /// `people` maps each person in the plan to their Slack user id (`U…`/`W…`).
    ///
    /// Guarantees: the mapping is one-to-one (a Slack account that two people claim is
    /// refused here), so [`SlackChat::person`] can never answer with the wrong person.
    pub fn new(config: SlackConfig, people: HashMap<PersonId, String>) -> Result<Self, ChatError> {
        let api = WebApi::new(&config.api_base, &config.bot_token, config.request_timeout)
            .map_err(|e| failed(e.to_string()))?;
        let mut by_slack_id: HashMap<String, PersonId> = HashMap::new();
        for (person, slack_id) in &people {
            let valid = !slack_id.is_empty()
                && slack_id.len() <= 32
                && slack_id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !valid {
                return Err(failed(format!(
                    "person `{person}`: `{slack_id}` is not a Slack user id (e.g. U024BE7LH)"
                )));
            }
            if let Some(other) = by_slack_id.insert(slack_id.clone(), person.clone()) {
                let (a, b) = if other < *person {
                    (&other, person)
                } else {
                    (person, &other)
                };
                return Err(failed(format!(
                    "Slack user {slack_id} is given for two people, `{a}` and `{b}`: each account must be one person"
                )));
            }
        }
        let api = Arc::new(api);
        Ok(SlackChat {
            queue: SendQueue::new(
                api.clone(),
                config.send_interval,
                config.max_rate_limit_wait,
            ),
            api,
            max_rate_limit_wait: config.max_rate_limit_wait,
            slack_ids: people,
            people: by_slack_id,
        })
    }

    /// The person a Slack user id belongs to, for inbound commands and clicks.
    ///
    /// Assumes: the id comes from a payload whose signature was verified. `None` means
    /// an unknown account, which is refused, never matched by display name.
    pub fn person(&self, slack_user_id: &str) -> Option<&PersonId> {
        self.people.get(slack_user_id)
    }

    /// One message as Slack stores it: a channel message or a reply in a thread.
    pub async fn message(&self, channel: &str, ts: &str) -> Result<SlackMessage, ChatError> {
        let exact = |answer: &Value| {
            answer
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|m| m["ts"] == ts)
                .map(SlackMessage::from_json)
        };
        let history = Args::Form(vec![
            ("channel", channel.to_owned()),
            ("latest", ts.to_owned()),
            ("oldest", ts.to_owned()),
            ("inclusive", "true".to_owned()),
            ("limit", "1".to_owned()),
        ]);
        let answer = self
            .call("conversations.history", history)
            .await
            .map_err(|e| to_chat_error(e, Some(channel), Some(ts)))?;
        if let Some(found) = exact(&answer) {
            return Ok(found);
        }
        // Not a channel message: a reply in a thread is only listed by its thread.
        let replies = Args::Form(vec![
            ("channel", channel.to_owned()),
            ("ts", ts.to_owned()),
            ("inclusive", "true".to_owned()),
            ("limit", "200".to_owned()),
        ]);
        let answer = self
            .call("conversations.replies", replies)
            .await
            .map_err(|e| to_chat_error(e, Some(channel), Some(ts)))?;
        exact(&answer).ok_or_else(|| {
            failed(format!(
                "message {ts} in channel {channel} is not readable (deleted, or the bot lacks channels:history)"
            ))
        })
    }

    /// A reply in the thread of `thread_ts`, through the channel's queue.
    pub async fn post_in_thread(
        &self,
        channel: &str,
        thread_ts: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        let args = json!({
            "channel": channel,
            "thread_ts": thread_ts,
            "text": fallback_text(text),
            "blocks": text_blocks(text),
            "unfurl_links": false,
            "unfurl_media": false,
        });
        self.send(channel, "chat.postMessage", args)
            .await
            .map(|_| ())
            .map_err(|e| to_chat_error(e, Some(channel), None))
    }

    /// Answer a slash command or click later, through the `response_url` Slack gave with it
    /// (valid for 30 minutes, 5 uses). Only Slack's own hosts (or the configured Web API's
    /// host, for stand-ins) are called: the URL comes from a payload, not from the plan.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), ChatError> {
        if !self.api.may_respond_to(response_url) {
            return Err(failed(format!(
                "response_url `{response_url}` is not a Slack address; not called"
            )));
        }
        let body = json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": fallback_text(text),
            "blocks": text_blocks(text),
        });
        self.api
            .post_url(response_url, &body)
            .await
            .map_err(|e| to_chat_error(e, None, None))
    }

    /// A link to a message, for pages and the timeline.
    pub async fn permalink(&self, message: &MessageRef) -> Result<String, ChatError> {
        let args = Args::Form(vec![
            ("channel", message.channel.clone()),
            ("message_ts", message.id.clone()),
        ]);
        let answer = self
            .call("chat.getPermalink", args)
            .await
            .map_err(|e| to_chat_error(e, Some(&message.channel), Some(&message.id)))?;
        string_at(&answer, "/permalink", "chat.getPermalink")
    }

    /// The whole `text` as a file in the thread of `message` (Slack's external upload flow:
    /// get an upload URL, send the bytes, complete the upload into the channel).
    async fn upload_snippet(&self, message: &MessageRef, text: &str) -> Result<(), ApiError> {
        let bytes = text.as_bytes().to_vec();
        let ticket = self
            .call(
                "files.getUploadURLExternal",
                Args::Form(vec![
                    ("filename", "warroom-output.txt".to_owned()),
                    ("length", bytes.len().to_string()),
                ]),
            )
            .await?;
        let field = |name: &str| {
            ticket
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::Transport {
                    method: "files.getUploadURLExternal",
                    message: format!("the answer has no `{name}`"),
                })
        };
        let (url, file_id) = (field("upload_url")?, field("file_id")?);
        self.api.upload(&url, bytes).await?;
        self.call(
            "files.completeUploadExternal",
            Args::Json(json!({
                "files": [{"id": file_id, "title": "warroom output"}],
                "channel_id": message.channel,
                "thread_ts": message.id,
            })),
        )
        .await
        .map(|_| ())
    }

    /// The direct-message conversation with `person`.
    async fn dm_channel(&self, person: &PersonId) -> Result<ChannelRef, ChatError> {
        let user = self.slack_id(person)?;
        let answer = self
            .call("conversations.open", Args::Json(json!({"users": user})))
            .await
            .map_err(|e| to_chat_error(e, None, None))?;
        Ok(ChannelRef {
            platform: PLATFORM,
            id: string_at(&answer, "/channel/id", "conversations.open")?,
            name: format!("@{person}"),
        })
    }

    /// `<@U…>` for each person with a Slack account in the plan.
    fn mentions(&self, people: &[PersonId]) -> Vec<String> {
        people
            .iter()
            .filter_map(|p| self.slack_id(p).ok())
            .map(|id| format!("<@{id}>"))
            .collect()
    }

    fn slack_id(&self, person: &PersonId) -> Result<&str, ChatError> {
        self.slack_ids
            .get(person)
            .map(String::as_str)
            .ok_or_else(|| ChatError::NoAccount {
                platform: PLATFORM,
                person: person.clone(),
            })
    }

    /// A call outside the per-channel queues, repeated on rate limits and — because only
    /// methods with the same effect when repeated come through here — on transient errors.
    async fn call(&self, method: &'static str, args: Args) -> Result<Value, ApiError> {
        let started = Instant::now();
        let mut attempt = 1;
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.api.call(method, &args).await {
                Err(ApiError::RateLimited { retry_after, .. })
                    if started.elapsed() + retry_after <= self.max_rate_limit_wait =>
                {
                    tokio::time::sleep(retry_after).await;
                }
                // A rate limit beyond the longest wait is final, not transient.
                Err(e)
                    if e.is_transient()
                        && !matches!(e, ApiError::RateLimited { .. })
                        && attempt < ATTEMPTS =>
                {
                    tracing::warn!(method, attempt, error = %e, "Slack call failed; trying again");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A message-shaped call through the channel's queue.
    async fn send(
        &self,
        channel: &str,
        method: &'static str,
        args: Value,
    ) -> Result<Value, ApiError> {
        self.queue.send(channel, method, Args::Json(args)).await
    }

    async fn post_blocks(
        &self,
        channel: &ChannelRef,
        text: String,
        blocks: Vec<Value>,
    ) -> Result<MessageRef, ChatError> {
        self.post_blocks_with(channel, text, blocks, None).await
    }

    /// Whether the page with delivery `key` is among the conversation's recent messages
    /// (looked up before posting a page again after a restart).
    async fn page_in_history(&self, dm: &ChannelRef, key: &str) -> Result<bool, ChatError> {
        let history = Args::Form(vec![
            ("channel", dm.id.clone()),
            ("limit", "100".to_owned()),
            ("include_all_metadata", "true".to_owned()),
        ]);
        let answer = self
            .call("conversations.history", history)
            .await
            .map_err(|e| to_chat_error(e, Some(&dm.id), None))?;
        Ok(answer
            .get("messages")
            .and_then(Value::as_array)
            .is_some_and(|messages| {
                messages.iter().any(|m| {
                    m.pointer("/metadata/event_type").and_then(Value::as_str) == Some(PAGE_EVENT)
                        && m.pointer("/metadata/event_payload/delivery")
                            .and_then(Value::as_str)
                            == Some(key)
                })
            }))
    }

    async fn post_blocks_with(
        &self,
        channel: &ChannelRef,
        text: String,
        blocks: Vec<Value>,
        metadata: Option<Value>,
    ) -> Result<MessageRef, ChatError> {
        let mut args = json!({
            "channel": channel.id,
            "text": text,
            "blocks": blocks,
            // Links in alerts are evidence, not something to fetch and preview.
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(m) = metadata {
            args["metadata"] = m;
        }
        let answer = self
            .send(&channel.id, "chat.postMessage", args)
            .await
            .map_err(|e| to_chat_error(e, Some(&channel.id), None))?;
        Ok(MessageRef {
            platform: PLATFORM,
            channel: answer
                .get("channel")
                .and_then(Value::as_str)
                .unwrap_or(&channel.id)
                .to_owned(),
            id: string_at(&answer, "/ts", "chat.postMessage")?,
        })
    }

    async fn update_blocks(
        &self,
        message: &MessageRef,
        text: String,
        blocks: Vec<Value>,
    ) -> Result<(), ChatError> {
        let args = json!({
            "channel": message.channel,
            "ts": message.id,
            "text": text,
            "blocks": blocks,
        });
        self.send(&message.channel, "chat.update", args)
            .await
            .map(|_| ())
            .map_err(|e| to_chat_error(e, Some(&message.channel), Some(&message.id)))
    }

    /// The id of an existing channel called `name`, joining it if the bot is not a member.
    async fn find_and_join(&self, name: &str) -> Result<String, ChatError> {
        let mut cursor = String::new();
        for _ in 0..MAX_LIST_PAGES {
            let mut args = vec![
                ("types", "public_channel,private_channel".to_owned()),
                ("exclude_archived", "true".to_owned()),
                ("limit", "200".to_owned()),
            ];
            if !cursor.is_empty() {
                args.push(("cursor", cursor.clone()));
            }
            let page = self
                .call("conversations.list", Args::Form(args))
                .await
                .map_err(|e| to_chat_error(e, None, None))?;
            let channels = page.get("channels").and_then(Value::as_array);
            if let Some(found) = channels.into_iter().flatten().find(|c| c["name"] == name) {
                let id = string_at(found, "/id", "conversations.list")?;
                if found["is_member"] != true {
                    if found["is_private"] == true {
                        return Err(failed(format!(
                            "channel #{name} exists and is private: invite the bot to it, or use another name"
                        )));
                    }
                    self.call("conversations.join", Args::Json(json!({"channel": id})))
                        .await
                        .map_err(|e| to_chat_error(e, Some(&id), None))?;
                }
                return Ok(id);
            }
            let next = page
                .pointer("/response_metadata/next_cursor")
                .and_then(Value::as_str)
                .unwrap_or("");
            if next.is_empty() || next == cursor {
                break;
            }
            cursor = next.to_owned();
        }
        Err(failed(format!(
            "channel name #{name} is taken, but the bot cannot see that channel (archived, or private without the bot)"
        )))
    }
}

#[async_trait]
impl Chat for SlackChat {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    async fn ensure_channel(
        &self,
        incident: &IncidentId,
        name: &str,
        topic: &str,
    ) -> Result<ChannelRef, ChatError> {
        validate_channel_name(name).map_err(|e| failed(e.to_string()))?;
        // Creating twice is safe: the second attempt finds the first one's channel.
        let created = self
            .call(
                "conversations.create",
                Args::Json(json!({"name": name, "is_private": false})),
            )
            .await;
        let id = match created {
            Ok(answer) => string_at(&answer, "/channel/id", "conversations.create")?,
            Err(e) if e.slack_error() == Some("name_taken") => self.find_and_join(name).await?,
            Err(e) => return Err(to_chat_error(e, None, None)),
        };
        let topic: String = topic.chars().take(MAX_TOPIC_CHARS).collect();
        self.call(
            "conversations.setTopic",
            Args::Json(json!({"channel": id, "topic": topic})),
        )
        .await
        .map_err(|e| to_chat_error(e, Some(&id), None))?;
        tracing::info!(incident = %incident.as_str(), channel = %id, name, "Slack channel ready");
        Ok(ChannelRef {
            platform: PLATFORM,
            id,
            name: name.to_owned(),
        })
    }

    /// Invites everyone with a known Slack account; people without one are named in the
    /// error after the others were invited.
    async fn invite(&self, channel: &ChannelRef, people: &[PersonId]) -> Result<(), ChatError> {
        let mut users: Vec<&str> = Vec::new();
        let mut unknown: Vec<&str> = Vec::new();
        for person in people {
            match self.slack_ids.get(person) {
                Some(id) if !users.contains(&id.as_str()) => users.push(id),
                Some(_) => {}
                None => unknown.push(person.as_str()),
            }
        }
        if !users.is_empty() {
            // `force`: invite the valid ones even if some cannot be invited.
            let args = json!({"channel": channel.id, "users": users.join(","), "force": true});
            match self.call("conversations.invite", Args::Json(args)).await {
                Ok(answer) => {
                    if let Some(errors) = answer.get("errors") {
                        tracing::warn!(channel = %channel.id, %errors, "some people could not be invited");
                    }
                }
                Err(e)
                    if matches!(
                        e.slack_error(),
                        Some("already_in_channel" | "cant_invite_self")
                    ) => {}
                Err(e) => return Err(to_chat_error(e, Some(&channel.id), None)),
            }
        }
        if !unknown.is_empty() {
            return Err(failed(format!(
                "not invited to #{}: no Slack account known for {}",
                channel.name,
                unknown.join(", ")
            )));
        }
        Ok(())
    }

    async fn post(&self, channel: &ChannelRef, text: &str) -> Result<MessageRef, ChatError> {
        if text.chars().count() <= SNIPPET_OVER_CHARS {
            return self
                .post_blocks(channel, fallback_text(text), text_blocks(text))
                .await;
        }
        let lines = text.lines().count();
        let mut head = String::new();
        for line in text.lines() {
            if head.chars().count() + line.chars().count() > SNIPPET_HEAD_CHARS {
                break;
            }
            head.push_str(line);
            head.push('\n');
        }
        if head.is_empty() {
            head = text.chars().take(SNIPPET_HEAD_CHARS).collect();
        }
        head.push_str(&format!(
            "… ({lines} lines; the whole text is attached in the thread)"
        ));
        let message = self
            .post_blocks(channel, fallback_text(&head), text_blocks(&head))
            .await?;
        if let Err(e) = self.upload_snippet(&message, text).await {
            // Nothing may be lost: without the file, the rest goes in as messages.
            tracing::warn!(channel = %channel.id, error = %e, "snippet upload failed; posting the text");
            self.post_blocks(channel, fallback_text(text), text_blocks(text))
                .await?;
        }
        Ok(message)
    }

    async fn update(&self, message: &MessageRef, text: &str) -> Result<(), ChatError> {
        self.update_blocks(message, fallback_text(text), text_blocks(text))
            .await
    }

    async fn direct_message(&self, person: &PersonId, text: &str) -> Result<(), ChatError> {
        let dm = self.dm_channel(person).await?;
        self.post(&dm, text).await.map(|_| ())
    }

    async fn ephemeral(
        &self,
        channel: &ChannelRef,
        person: &PersonId,
        text: &str,
    ) -> Result<(), ChatError> {
        let user = self.slack_id(person)?;
        let args = json!({
            "channel": channel.id,
            "user": user,
            "text": fallback_text(text),
            "blocks": text_blocks(text),
        });
        self.send(&channel.id, "chat.postEphemeral", args)
            .await
            .map(|_| ())
            .map_err(|e| to_chat_error(e, Some(&channel.id), None))
    }

    async fn approval_card(
        &self,
        channel: &ChannelRef,
        card: &ApprovalCard,
    ) -> Result<MessageRef, ChatError> {
        let blocks = approval_blocks(card, &self.mentions(&card.deciders));
        self.post_blocks(channel, fallback_text(&card.text()), blocks)
            .await
    }

    async fn update_card(
        &self,
        message: &MessageRef,
        card: &ApprovalCard,
    ) -> Result<(), ChatError> {
        let blocks = approval_blocks(card, &self.mentions(&card.deciders));
        self.update_blocks(message, fallback_text(&card.text()), blocks)
            .await
    }

    async fn page(
        &self,
        person: &PersonId,
        incident: &IncidentId,
        text: &str,
        key: &str,
        look_first: bool,
    ) -> Result<bool, ChatError> {
        let dm = self.dm_channel(person).await?;
        if look_first && self.page_in_history(&dm, key).await? {
            return Ok(true);
        }
        let mut blocks = text_blocks(text);
        blocks.push(json!({
            "type": "actions",
            "block_id": "warroom_page",
            "elements": [{
                "type": "button",
                "action_id": super::buttons::ACK_ACTION_ID,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": incident.as_str(),
            }],
        }));
        // The key rides in the message's metadata, for `page_in_history` after a restart.
        let metadata = json!({
            "event_type": PAGE_EVENT,
            "event_payload": { "delivery": key },
        });
        self.post_blocks_with(&dm, fallback_text(text), blocks, Some(metadata))
            .await
            .map(|_| false)
    }

    async fn announce_in(&self, channel: &str, text: &str) -> Result<(), ChatError> {
        let name = channel.trim_start_matches('#');
        validate_channel_name(name).map_err(|e| failed(e.to_string()))?;
        let id = self.find_and_join(name).await?;
        let target = ChannelRef {
            platform: PLATFORM,
            id,
            name: name.to_owned(),
        };
        self.post(&target, text).await.map(|_| ())
    }

    /// Pinning twice is fine.
    async fn pin(&self, message: &MessageRef) -> Result<(), ChatError> {
        let args = json!({"channel": message.channel, "timestamp": message.id});
        match self.call("pins.add", Args::Json(args)).await {
            Err(e) if e.slack_error() == Some("already_pinned") => Ok(()),
            other => other
                .map(|_| ())
                .map_err(|e| to_chat_error(e, Some(&message.channel), Some(&message.id))),
        }
    }
}

fn failed(message: String) -> ChatError {
    ChatError::Failed {
        platform: PLATFORM,
        message,
    }
}

fn to_chat_error(e: ApiError, channel: Option<&str>, message: Option<&str>) -> ChatError {
    match (e.slack_error(), channel, message) {
        (Some("channel_not_found"), Some(channel), _) => ChatError::NoChannel {
            platform: PLATFORM,
            channel: channel.to_owned(),
        },
        (Some("message_not_found"), _, Some(message)) => ChatError::NoMessage {
            platform: PLATFORM,
            message: message.to_owned(),
        },
        _ => failed(e.to_string()),
    }
}

fn string_at(answer: &Value, pointer: &str, method: &str) -> Result<String, ChatError> {
    answer
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            failed(format!(
                "{method}: the answer has no `{}`",
                pointer.trim_start_matches('/')
            ))
        })
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;

    use super::super::fake_slack::{FakeSlack, TOKEN};
    use super::*;

    fn chat(slack: &FakeSlack) -> SlackChat {
        let mut config = SlackConfig::new(TOKEN);
        config.api_base = slack.base.clone();
        config.send_interval = Duration::from_millis(5);
        let people = HashMap::from([
            (PersonId::from("alice"), "U0ALICE".to_owned()),
            (PersonId::from("bob"), "U0BOB".to_owned()),
        ]);
        SlackChat::new(config, people).unwrap()
    }

    #[tokio::test]
    async fn long_output_goes_in_as_a_snippet_in_the_thread_and_nothing_is_lost() {
        let slack = FakeSlack::start().await;
        let chat = chat(&slack);
        let channel = ChannelRef {
            platform: PLATFORM,
            id: "C1".into(),
            name: "inc".into(),
        };
        let text: String = (0..400)
            .map(|i| format!("pod api-{i:03} evicted after 12s\n"))
            .collect();
        let message = chat.post(&channel, &text).await.unwrap();
        let posts = slack.answered("chat.postMessage");
        assert_eq!(posts.len(), 1, "one message in the channel");
        let shown = posts[0].args["text"].as_str().unwrap();
        assert!(shown.contains("pod api-000"), "{shown}");
        assert!(
            shown.contains("400 lines; the whole text is attached"),
            "{shown}"
        );
        let complete = slack.answered("files.completeUploadExternal");
        assert_eq!(complete.len(), 1);
        assert_eq!(complete[0].args["channel_id"], "C1");
        assert_eq!(complete[0].args["thread_ts"], message.id.as_str());
        let id = complete[0].args["files"][0]["id"].as_str().unwrap();
        assert_eq!(
            slack.upload(id).unwrap(),
            text.as_bytes(),
            "the whole text, exactly"
        );
        // Short messages are posted as they are.
        chat.post(&channel, "short").await.unwrap();
        assert_eq!(slack.answered("files.getUploadURLExternal").len(), 1);
    }

    fn incident() -> IncidentId {
        "INC-20261127-0001".parse().unwrap()
    }

    fn channel(id: &str) -> ChannelRef {
        ChannelRef {
            platform: PLATFORM,
            id: id.into(),
            name: "inc-test".into(),
        }
    }

    /// Polls every future in turn, first to last, until all are done: the first round
    /// starts them in order, as a burst from one place would.
    async fn all_in_order<T>(
        mut futures: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>,
    ) -> Vec<T> {
        let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (f, r) in futures.iter_mut().zip(results.iter_mut()) {
                if r.is_none() {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(v) => *r = Some(v),
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        results.into_iter().flatten().collect()
    }

    #[tokio::test]
    async fn thirty_messages_in_a_burst_arrive_all_and_in_order_despite_429s() {
        let slack = FakeSlack::start().await;
        slack.rate_limit("C1", 2);
        let chat = chat(&slack);
        let ch = channel("C1");
        let texts: Vec<String> = (0..30).map(|i| format!("update {i}")).collect();
        let posts = texts
            .iter()
            .map(|t| Box::pin(chat.post(&ch, t)) as Pin<Box<dyn Future<Output = _> + Send + '_>>)
            .collect();
        let refs = all_in_order(posts).await;
        assert!(refs.iter().all(Result::is_ok));
        let delivered: Vec<String> = slack
            .answered("chat.postMessage")
            .iter()
            .map(|c| {
                c.args["blocks"][0]["text"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(delivered, texts);
        let limited = slack.calls().iter().filter(|c| c.limited).count();
        assert_eq!(limited, 2);
    }

    #[tokio::test]
    async fn a_new_channel_is_created_with_its_topic() {
        let slack = FakeSlack::start().await;
        let ch = chat(&slack)
            .ensure_channel(&incident(), "inc-20261127-shell", "Shell in payments/api")
            .await
            .unwrap();
        assert_eq!(ch.platform, "slack");
        assert_eq!(ch.name, "inc-20261127-shell");
        let calls = slack.calls();
        let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
        assert_eq!(methods, ["conversations.create", "conversations.setTopic"]);
        assert_eq!(calls[1].args["channel"], ch.id.as_str());
        assert_eq!(calls[1].args["topic"], "Shell in payments/api");
    }

    #[tokio::test]
    async fn a_taken_name_is_found_across_pages_and_joined() {
        let slack = FakeSlack::start().await;
        for (id, name) in [
            ("C1", "general"),
            ("C2", "random"),
            ("C3", "ops"),
            ("C4", "inc-x"),
        ] {
            slack.add_channel(
                json!({"id": id, "name": name, "is_member": false, "is_private": false}),
            );
        }
        let ch = chat(&slack)
            .ensure_channel(&incident(), "inc-x", &"t".repeat(300))
            .await
            .unwrap();
        assert_eq!(ch.id, "C4");
        let calls = slack.calls();
        let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
        assert_eq!(
            methods,
            [
                "conversations.create",
                "conversations.list",
                "conversations.list",
                "conversations.join",
                "conversations.setTopic"
            ]
        );
        assert_eq!(calls[2].args["cursor"], "page2");
        assert_eq!(calls[3].args["channel"], "C4");
        assert_eq!(
            calls[4].args["topic"].as_str().unwrap().chars().count(),
            MAX_TOPIC_CHARS
        );
    }

    #[tokio::test]
    async fn invalid_names_and_invisible_channels_are_explained() {
        let slack = FakeSlack::start().await;
        let chat = chat(&slack);
        let e = chat
            .ensure_channel(&incident(), "Inc X", "t")
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("not a valid Slack channel name"),
            "{e}"
        );
        assert!(slack.calls().is_empty());

        slack.add_channel(
            json!({"id": "C9", "name": "secret", "is_member": false, "is_private": true}),
        );
        let e = chat
            .ensure_channel(&incident(), "secret", "t")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("private"), "{e}");
    }

    #[tokio::test]
    async fn people_are_invited_by_their_slack_ids_and_unknown_ones_named() {
        let slack = FakeSlack::start().await;
        let chat = chat(&slack);
        let people = ["alice".into(), "bob".into(), "alice".into(), "carol".into()];
        let e = chat.invite(&channel("C1"), &people).await.unwrap_err();
        assert!(
            e.to_string().contains("carol") && !e.to_string().contains("alice"),
            "{e}"
        );
        let calls = slack.answered("conversations.invite");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].args["users"], "U0ALICE,U0BOB");
        chat.invite(&channel("C1"), &[]).await.unwrap();
        assert_eq!(slack.calls().len(), 1);
    }

    #[tokio::test]
    async fn cards_are_posted_with_buttons_and_updated_in_place() {
        let slack = FakeSlack::start().await;
        let chat = chat(&slack);
        let mut card = ApprovalCard {
            incident: incident(),
            request: "R1".into(),
            title: "quarantine pod payments/api-7f9c".into(),
            lines: vec!["asked by alice".into()],
            status: "pending".into(),
            open: true,
            deciders: vec!["bob".into()],
        };
        let msg = chat.approval_card(&channel("C1"), &card).await.unwrap();
        assert_eq!(msg.channel, "C1");
        card.open = false;
        card.status = "approved by bob".into();
        chat.update_card(&msg, &card).await.unwrap();
        let calls = slack.calls();
        assert_eq!(calls[0].method, "chat.postMessage");
        assert!(
            calls[0].args["text"]
                .as_str()
                .unwrap()
                .contains("quarantine pod")
        );
        assert_eq!(
            calls[0].args["blocks"][3]["elements"][0]["action_id"],
            "warroom_approve"
        );
        assert_eq!(calls[1].method, "chat.update");
        assert_eq!(calls[1].args["ts"], msg.id.as_str());
        assert!(
            calls[1].args["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["type"] != "actions")
        );

        let gone = MessageRef {
            platform: PLATFORM,
            channel: "C1".into(),
            id: "404.0".into(),
        };
        assert!(matches!(
            chat.update(&gone, "x").await,
            Err(ChatError::NoMessage { .. })
        ));
        let e = chat.post(&channel("C_GONE"), "x").await.unwrap_err();
        assert!(
            matches!(e, ChatError::NoChannel { ref channel, .. } if channel == "C_GONE"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn direct_and_ephemeral_messages_go_to_the_mapped_account() {
        let slack = FakeSlack::start().await;
        let chat = chat(&slack);
        chat.direct_message(&"bob".into(), "you are paged")
            .await
            .unwrap();
        chat.ephemeral(&channel("C1"), &"alice".into(), "usage: …")
            .await
            .unwrap();
        let calls = slack.calls();
        assert_eq!(calls[0].method, "conversations.open");
        assert_eq!(calls[0].args["users"], "U0BOB");
        assert_eq!(calls[1].method, "chat.postMessage");
        assert_eq!(calls[1].args["channel"], "DU0BOB");
        assert_eq!(calls[2].method, "chat.postEphemeral");
        assert_eq!(calls[2].args["user"], "U0ALICE");
        assert!(chat.direct_message(&"mallory".into(), "x").await.is_err());
        assert_eq!(slack.calls().len(), 3);
    }

    #[tokio::test]
    async fn pins_and_permalinks() {
        let slack = FakeSlack::start().await;
        let chat = chat(&slack);
        let msg = MessageRef {
            platform: PLATFORM,
            channel: "C1".into(),
            id: "1.2".into(),
        };
        chat.pin(&msg).await.unwrap();
        assert_eq!(
            chat.permalink(&msg).await.unwrap(),
            "https://example.slack.com/archives/C1/p1"
        );
        let calls = slack.calls();
        assert_eq!(calls[0].args["timestamp"], "1.2");
        assert_eq!(calls[1].args["message_ts"], "1.2");
    }

    #[test]
    fn the_account_mapping_is_one_to_one_and_well_formed() {
        let config = || {
            let mut c = SlackConfig::new(TOKEN);
            c.api_base = "http://127.0.0.1:1/api".into();
            c
        };
        let ok =
            SlackChat::new(config(), HashMap::from([("alice".into(), "U1".to_owned())])).unwrap();
        assert_eq!(ok.person("U1"), Some(&PersonId::from("alice")));
        assert_eq!(ok.person("U2"), None);
        let shared = HashMap::from([
            ("alice".into(), "U1".to_owned()),
            ("bob".into(), "U1".to_owned()),
        ]);
        let e = SlackChat::new(config(), shared).unwrap_err();
        assert!(e.to_string().contains("`alice` and `bob`"), "{e}");
        for bad in ["", "alice", "U1 ", "<@U1>"] {
            assert!(
                SlackChat::new(config(), HashMap::from([("a".into(), bad.to_owned())])).is_err()
            );
        }
        let debug = format!("{:?} {:?}", config(), ok);
        assert!(!debug.contains(TOKEN), "{debug}");
    }
}
