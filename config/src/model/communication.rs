//! `[communication]`: incident channels and the chat platforms.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::problem::with_hint;
use crate::secret::SecretRef;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Communication {
    /// Name of the channel opened per incident.
    #[serde(default = "default_channel_name")]
    pub channel_name: ChannelTemplate,
    /// Where summaries for non-responders are posted.
    #[serde(default)]
    pub stakeholder_channel: Option<String>,
    #[serde(
        default = "default_status_every",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub status_update_every: Duration,
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    #[serde(default)]
    pub discord: Option<DiscordConfig>,
}

fn default_channel_name() -> ChannelTemplate {
    ChannelTemplate {
        template: "inc-{date}-{slug}".into(),
    }
}

fn default_status_every() -> Duration {
    Duration::from_secs(30 * 60)
}

impl Default for Communication {
    fn default() -> Self {
        Self {
            channel_name: default_channel_name(),
            stakeholder_channel: None,
            status_update_every: default_status_every(),
            slack: None,
            discord: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Events and interactions arrive as signed HTTP requests.
    #[default]
    Http,
    /// Socket Mode: the bot dials out, no public endpoint needed.
    Socket,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub mode: SlackMode,
    pub bot_token: SecretRef,
    /// Needed in http mode to verify request signatures.
    #[serde(default)]
    pub signing_secret: Option<SecretRef>,
    /// Needed in socket mode (xapp- token).
    #[serde(default)]
    pub app_token: Option<SecretRef>,
    /// Overrides https://slack.com/api, e.g. for a test server.
    #[serde(default)]
    pub api_base_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// `http`: interactions arrive signed at `POST /discord/interactions`; `gateway`: the bot
    /// connects out (no public URL needed).
    #[serde(default)]
    pub mode: DiscordMode,
    pub application_id: String,
    /// Ed25519 public key (hex) used to verify interactions; public, so not a secret.
    pub public_key: String,
    pub bot_token: SecretRef,
    /// The server (guild) incidents live in; incident channels are created there.
    #[serde(default)]
    pub guild_id: Option<String>,
    /// The category incident channels are created under.
    #[serde(default)]
    pub incident_category: Option<String>,
    /// Overrides https://discord.com (the REST API), e.g. for a test server.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Overrides the gateway URL Discord hands out, e.g. for a test server.
    #[serde(default)]
    pub gateway_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// Interactions arrive as signed HTTP requests.
    #[default]
    Http,
    /// The bot keeps a gateway connection.
    Gateway,
}

/// A channel name with placeholders: {date} (YYYYMMDD), {slug}, {id} and {severity}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTemplate {
    template: String,
}

/// Values substituted into a [`ChannelTemplate`].
#[derive(Debug, Clone, Copy)]
pub struct ChannelVars<'a> {
    pub date: &'a str,
    pub slug: &'a str,
    pub id: &'a str,
    pub severity: &'a str,
}

const PLACEHOLDERS: [&str; 4] = ["date", "slug", "id", "severity"];
const CHANNEL_HINT: &str = "use lowercase letters, digits, - and _ with placeholders {date}, {slug}, {id}, {severity}, e.g. inc-{date}-{slug}";

impl ChannelTemplate {
    pub fn as_str(&self) -> &str {
        &self.template
    }

    pub fn render(&self, vars: ChannelVars<'_>) -> String {
        self.template
            .replace("{date}", vars.date)
            .replace("{slug}", vars.slug)
            .replace("{id}", vars.id)
            .replace("{severity}", vars.severity)
    }
}

impl FromStr for ChannelTemplate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: String| Err(with_hint(why, CHANNEL_HINT));
        let mut rest = text;
        let mut unique = false;
        while let Some(open) = rest.find('{') {
            let literal = &rest[..open];
            if literal.contains('}') {
                return bad(format!("unbalanced `}}` in channel name `{text}`"));
            }
            check_literal(literal, text)?;
            let Some(close) = rest[open..].find('}') else {
                return bad(format!("unclosed `{{` in channel name `{text}`"));
            };
            let name = &rest[open + 1..open + close];
            if !PLACEHOLDERS.contains(&name) {
                return bad(format!(
                    "unknown placeholder {{{name}}} in channel name `{text}`"
                ));
            }
            unique |= name == "slug" || name == "id";
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return bad(format!("unbalanced `}}` in channel name `{text}`"));
        }
        check_literal(rest, text)?;
        if !unique {
            return bad(format!(
                "channel name `{text}` has neither {{slug}} nor {{id}}, so two incidents would share a channel"
            ));
        }
        Ok(Self {
            template: text.to_owned(),
        })
    }
}

fn check_literal(literal: &str, whole: &str) -> Result<(), String> {
    match literal
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        Some(c) => Err(with_hint(
            format!("channel name `{whole}` contains `{c}`, which chat platforms do not allow"),
            CHANNEL_HINT,
        )),
        None => Ok(()),
    }
}

impl fmt::Display for ChannelTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

impl<'de> Deserialize<'de> for ChannelTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::textual::parse_with(d, "a channel name like \"inc-{date}-{slug}\"", str::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_template_renders_placeholders() {
        let t: ChannelTemplate = "inc-{date}-{slug}".parse().unwrap();
        let vars = ChannelVars {
            date: "20261104",
            slug: "api-shell",
            id: "INC-7",
            severity: "sev1",
        };
        assert_eq!(t.render(vars), "inc-20261104-api-shell");
    }

    #[test]
    fn channel_template_rejects_unknown_placeholders_and_bad_characters() {
        assert!("inc-{when}-{slug}".parse::<ChannelTemplate>().is_err());
        assert!("inc-{slug".parse::<ChannelTemplate>().is_err());
        assert!("Inc {slug}".parse::<ChannelTemplate>().is_err());
        assert!("inc}-{slug}".parse::<ChannelTemplate>().is_err());
    }

    #[test]
    fn channel_template_must_be_unique_per_incident() {
        assert!("inc-{date}".parse::<ChannelTemplate>().is_err());
        assert!("inc-{id}".parse::<ChannelTemplate>().is_ok());
    }
}
