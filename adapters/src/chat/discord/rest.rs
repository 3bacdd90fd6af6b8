//! Discord's REST API through serenity's `Http`: serenity's routes and request building, and
//! against discord.com its rate limiter (per-route buckets, the global limit, 429
//! `retry_after` honoured and the request repeated, nothing dropped). serenity's limiter always
//! calls discord.com, so with a configured base (`api_base_url`: a rate-limiting proxy, a test
//! stand-in) warroom sends serenity's requests there itself and honours 429 `Retry-After` the
//! same way. Bodies are Discord's own JSON; answers come back as JSON.

use std::sync::Arc;

use serde_json::Value;
use serenity::all::{ApplicationId, ChannelId, GuildId, InteractionId, MessageId, UserId};
use serenity::builder::CreateAttachment;
use serenity::http::{Http, HttpBuilder, LightMethod, Multipart, MultipartUpload, Request, Route};

use crate::chat::ChatError;

pub const PLATFORM: &str = "discord";
/// Discord's limit on a message's content.
pub const MAX_CONTENT: usize = 2000;

pub struct DiscordRest {
    http: Arc<Http>,
    app: ApplicationId,
    /// Kept to build the gateway client's own `Http`.
    token: String,
    /// Set when the plan names another base than discord.com.
    direct: Option<Direct>,
}

struct Direct {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// A 429 is retried this many times before the call fails.
const MAX_RATE_LIMITED: u32 = 20;

pub fn failed(message: impl Into<String>) -> ChatError {
    ChatError::Failed {
        platform: PLATFORM,
        message: message.into(),
    }
}

/// A snowflake id from text.
pub fn snowflake(id: &str, what: &str) -> Result<u64, ChatError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| failed(format!("{what} `{id}` is not a Discord id")))
}

/// How long one Discord API request may take, answer included.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl DiscordRest {
    /// `api_base`: `https://discord.com` unless the plan says otherwise.
    pub fn new(api_base: Option<&str>, token: &str, application_id: &str) -> Result<Self, String> {
        let app = snowflake(application_id, "application_id").map_err(|e| e.to_string())?;
        // A Discord that accepts the connection and never answers must not hold a channel's
        // posts forever: each request gets REQUEST_TIMEOUT, then fails and is said.
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the Discord HTTP client: {e}"))?;
        let builder = HttpBuilder::new(token)
            .application_id(ApplicationId::new(app))
            .client(client.clone());
        let direct = api_base
            .filter(|b| b.trim_end_matches('/') != "https://discord.com")
            .map(|base| Direct {
                client,
                base: base.trim_end_matches('/').to_owned(),
                token: format!("Bot {}", token.trim_start_matches("Bot ")),
            });
        Ok(DiscordRest {
            http: Arc::new(builder.build()),
            app: ApplicationId::new(app),
            token: token.to_owned(),
            direct,
        })
    }

    /// One call, through serenity's rate limiter, or (another base) with 429s retried after
    /// their `Retry-After`.
    async fn execute(
        &self,
        request: Request<'_>,
        what: &str,
    ) -> Result<reqwest::Response, ChatError> {
        let fail = |e: &dyn std::fmt::Display| failed(format!("{what}: {e}"));
        let Some(d) = &self.direct else {
            return match self.http.request(request).await {
                Ok(r) => Ok(r),
                Err(serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(e))) => {
                    Err(failed(format!(
                        "{what}: Discord answered {}: {}",
                        e.status_code, e.error.message
                    )))
                }
                // reqwest's errors name the URL, and an interaction's URL holds its token
                // (valid 15 minutes): never into a log or an answer.
                Err(serenity::Error::Http(serenity::http::HttpError::Request(e))) => {
                    Err(fail(&e.without_url()))
                }
                Err(e) => Err(fail(&e)),
            };
        };
        let mut limited = 0;
        loop {
            let built = request
                .clone()
                .build(&d.client, &d.token, Some(&d.base))
                .map_err(|e| fail(&e))?
                .build()
                .map_err(|e| fail(&e.without_url()))?;
            let response = d
                .client
                .execute(built)
                .await
                .map_err(|e| fail(&e.without_url()))?;
            if response.status().as_u16() != 429 || limited >= MAX_RATE_LIMITED {
                return Ok(response);
            }
            limited += 1;
            let after = retry_after_secs(response.headers().get("retry-after"));
            tracing::info!(
                what,
                retry_after = after,
                "Discord rate limit: waiting as asked"
            );
            tokio::time::sleep(std::time::Duration::from_secs_f64(after)).await;
        }
    }

    async fn send(&self, request: Request<'_>, what: &str) -> Result<Value, ChatError> {
        let response = self.execute(request, what).await?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(failed(format!("{what}: Discord answered {status}: {text}")));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| failed(format!("{what}: unreadable answer: {e}")))
    }

    fn json<'a>(route: Route<'a>, method: LightMethod, body: &Value) -> Request<'a> {
        Request::new(route, method).body(Some(body.to_string().into_bytes()))
    }

    pub async fn guild_channels(&self, guild: &str) -> Result<Vec<Value>, ChatError> {
        let guild_id = GuildId::new(snowflake(guild, "guild_id")?);
        let v = self
            .send(
                Request::new(Route::GuildChannels { guild_id }, LightMethod::Get),
                "list channels",
            )
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    pub async fn create_channel(&self, guild: &str, body: &Value) -> Result<Value, ChatError> {
        let guild_id = GuildId::new(snowflake(guild, "guild_id")?);
        self.send(
            Self::json(Route::GuildChannels { guild_id }, LightMethod::Post, body),
            "create channel",
        )
        .await
    }

    pub async fn edit_channel(&self, channel: &str, body: &Value) -> Result<(), ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        self.send(
            Self::json(Route::Channel { channel_id }, LightMethod::Patch, body),
            "edit channel",
        )
        .await
        .map(|_| ())
    }

    /// Let one member see a channel (a permission overwrite of type member).
    pub async fn allow_member(
        &self,
        channel: &str,
        user: &str,
        allow: u64,
    ) -> Result<(), ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        let target_id = UserId::new(snowflake(user, "user")?).into();
        let body = serde_json::json!({ "type": 1, "allow": allow.to_string(), "deny": "0" });
        self.send(
            Self::json(
                Route::ChannelPermission {
                    channel_id,
                    target_id,
                },
                LightMethod::Put,
                &body,
            ),
            "allow a member",
        )
        .await
        .map(|_| ())
    }

    /// Post a message; content over 2,000 characters goes as its first lines plus the whole
    /// text attached as `message.txt`. Returns the message's id.
    pub async fn post(&self, channel: &str, body: &Value) -> Result<String, ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        let (body, file) = fit(body);
        let mut request = Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post);
        request = match file {
            None => request.body(Some(body.to_string().into_bytes())),
            Some(text) => request.multipart(Some(Multipart {
                upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                    text.into_bytes(),
                    "message.txt",
                )]),
                fields: vec![],
                payload_json: Some(body.to_string()),
            })),
        };
        let v = self.send(request, "post").await?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("post: the answer has no message id"))
    }

    pub async fn edit(&self, channel: &str, message: &str, body: &Value) -> Result<(), ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        let message_id = MessageId::new(snowflake(message, "message")?);
        let (body, _) = fit(body);
        self.send(
            Self::json(
                Route::ChannelMessage {
                    channel_id,
                    message_id,
                },
                LightMethod::Patch,
                &body,
            ),
            "edit message",
        )
        .await
        .map(|_| ())
    }

    /// A serenity `Http` for the gateway client. Against another base than discord.com it
    /// sends there with serenity's limiter off (the limiter would call discord.com).
    pub fn gateway_http(&self) -> Http {
        let builder = HttpBuilder::new(&self.token).application_id(self.app);
        match &self.direct {
            Some(d) => builder
                .proxy(d.base.clone())
                .ratelimiter_disabled(true)
                .build(),
            None => builder.build(),
        }
    }

    /// One message of a channel (the 📌'd message in gateway mode).
    pub async fn message(&self, channel: &str, message: &str) -> Result<Value, ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        let message_id = MessageId::new(snowflake(message, "message")?);
        self.send(
            Request::new(
                Route::ChannelMessage {
                    channel_id,
                    message_id,
                },
                LightMethod::Get,
            ),
            "read the message",
        )
        .await
    }

    pub async fn recent_messages(&self, channel: &str) -> Result<Vec<Value>, ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        let v = self
            .send(
                Request::new(Route::ChannelMessages { channel_id }, LightMethod::Get)
                    .params(Some(vec![("limit", "50".to_owned())])),
                "read messages",
            )
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    pub async fn pin(&self, channel: &str, message: &str) -> Result<(), ChatError> {
        let channel_id = ChannelId::new(snowflake(channel, "channel")?);
        let message_id = MessageId::new(snowflake(message, "message")?);
        self.send(
            Request::new(
                Route::ChannelPin {
                    channel_id,
                    message_id,
                },
                LightMethod::Put,
            ),
            "pin",
        )
        .await
        .map(|_| ())
    }

    /// The direct-message channel with `user`.
    pub async fn dm_channel(&self, user: &str) -> Result<String, ChatError> {
        snowflake(user, "user")?;
        let body = serde_json::json!({ "recipient_id": user });
        let v = self
            .send(
                Self::json(Route::UserMeDmChannels, LightMethod::Post, &body),
                "open a DM",
            )
            .await?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("open a DM: the answer has no channel id"))
    }

    /// The interaction's first answer (callback).
    pub async fn respond(
        &self,
        interaction: &str,
        token: &str,
        body: &Value,
    ) -> Result<(), ChatError> {
        let interaction_id = InteractionId::new(snowflake(interaction, "interaction")?);
        self.send(
            Self::json(
                Route::InteractionResponse {
                    interaction_id,
                    token,
                },
                LightMethod::Post,
                body,
            ),
            "answer the interaction",
        )
        .await
        .map(|_| ())
    }

    /// Replace a deferred answer with the outcome (valid 15 minutes after the interaction).
    pub async fn edit_original(&self, token: &str, body: &Value) -> Result<(), ChatError> {
        let (body, _) = fit(body);
        self.send(
            Self::json(
                Route::WebhookOriginalInteractionResponse {
                    application_id: self.app,
                    token,
                },
                LightMethod::Patch,
                &body,
            ),
            "follow up",
        )
        .await
        .map(|_| ())
    }

    /// The application's commands (in a guild, or global).
    pub async fn commands(&self, guild: Option<&str>) -> Result<Vec<Value>, ChatError> {
        let v = self
            .send(
                Request::new(self.commands_route(guild)?, LightMethod::Get),
                "list commands",
            )
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Replace every command at once (Discord's bulk overwrite: idempotent).
    pub async fn overwrite_commands(
        &self,
        guild: Option<&str>,
        definitions: &[Value],
    ) -> Result<Vec<Value>, ChatError> {
        let body = Value::Array(definitions.to_vec());
        let v = self
            .send(
                Self::json(self.commands_route(guild)?, LightMethod::Put, &body),
                "register commands",
            )
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    fn commands_route(&self, guild: Option<&str>) -> Result<Route<'static>, ChatError> {
        Ok(match guild {
            Some(g) => Route::GuildCommands {
                application_id: self.app,
                guild_id: GuildId::new(snowflake(g, "guild_id")?),
            },
            None => Route::Commands {
                application_id: self.app,
            },
        })
    }
}

/// A body whose `content` fits Discord's limit, and the whole text when it did not.
fn fit(body: &Value) -> (Value, Option<String>) {
    let Some(content) = body["content"].as_str() else {
        return (body.clone(), None);
    };
    if content.chars().count() <= MAX_CONTENT {
        return (body.clone(), None);
    }
    let mut head = String::new();
    for line in content.lines() {
        if head.chars().count() + line.chars().count() + 40 > MAX_CONTENT {
            break;
        }
        head.push_str(line);
        head.push('\n');
    }
    if head.is_empty() {
        head = content.chars().take(MAX_CONTENT - 40).collect();
        head.push('\n');
    }
    head.push_str("… (the whole text is attached)");
    let mut short = body.clone();
    short["content"] = Value::String(head);
    (short, Some(content.to_owned()))
}

/// Discord's `Retry-After` in seconds (fractions allowed), within 0–60; 1 when absent or
/// not a number.
fn retry_after_secs(value: Option<&reqwest::header::HeaderValue>) -> f64 {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        // "NaN" parses, and survives `clamp`: a wait made of it would panic.
        .filter(|v| v.is_finite())
        .unwrap_or(1.0)
        .clamp(0.0, 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_call_never_says_the_interaction_token_in_its_url() {
        // A port nobody listens on: the request fails before any answer.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let rest = DiscordRest::new(
            Some(&format!("http://127.0.0.1:{port}")),
            "bot-token",
            "1187654321098765432",
        )
        .unwrap();
        let token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ";
        for e in [
            rest.respond(
                "1300000000000000001",
                token,
                &serde_json::json!({"type": 1}),
            )
            .await
            .unwrap_err(),
            rest.edit_original(token, &serde_json::json!({"content": "x"}))
                .await
                .unwrap_err(),
        ] {
            let said = e.to_string();
            assert!(!said.contains(token), "{said}");
            assert!(said.contains("discord"), "{said}");
        }
    }

    #[test]
    fn retry_after_is_a_finite_wait_whatever_the_header_says() {
        use reqwest::header::HeaderValue;
        let of = |v: &'static str| retry_after_secs(Some(&HeaderValue::from_static(v)));
        assert_eq!(of("0.25"), 0.25);
        assert_eq!(of("NaN"), 1.0);
        assert_eq!(of("inf"), 1.0);
        assert_eq!(of("-3"), 0.0);
        assert_eq!(of("1e300"), 60.0);
        assert_eq!(of("soon"), 1.0);
        assert_eq!(retry_after_secs(None), 1.0);
        // Each is a wait that can be made.
        for v in ["NaN", "inf", "-inf", "1e300"] {
            let _ = std::time::Duration::from_secs_f64(of(v));
        }
    }

    #[test]
    fn long_content_is_cut_at_a_line_and_attached_whole() {
        let long: String = (0..300)
            .map(|i| format!("line {i} of the capture\n"))
            .collect();
        let (short, file) = fit(&serde_json::json!({ "content": long }));
        let head = short["content"].as_str().unwrap();
        assert!(head.chars().count() <= MAX_CONTENT, "{}", head.len());
        assert!(head.starts_with("line 0 of the capture\n"));
        assert!(head.ends_with("(the whole text is attached)"));
        assert_eq!(file.unwrap(), long);
        let (same, none) = fit(&serde_json::json!({ "content": "short" }));
        assert_eq!(same["content"], "short");
        assert!(none.is_none());
    }
}
