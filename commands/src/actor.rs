//! Who did something: a person of the plan, a local CLI user, or warroom itself.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use warroom_config::PersonId;

/// The identity recorded on every timeline entry.
///
/// Chat accounts never appear here: they are mapped to the plan's person first, so one person
/// with a Slack and a Discord account is one actor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    /// A person named in the response plan.
    Person(PersonId),
    /// Someone at a terminal running the `warroom` CLI, by local user name.
    Cli(String),
    /// warroom acting on its own (expiry, escalation, recovery).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an actor: expected person:<id>, cli:<user> or warroom")]
pub struct ActorError(String);

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Person(id) => write!(f, "person:{id}"),
            Actor::Cli(user) => write!(f, "cli:{user}"),
            Actor::System => f.write_str("warroom"),
        }
    }
}

impl FromStr for Actor {
    type Err = ActorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("person", id)) if !id.is_empty() => {
                Ok(Actor::Person(PersonId::from(id.to_string())))
            }
            Some(("cli", user)) if !user.is_empty() => Ok(Actor::Cli(user.to_string())),
            None if s == "warroom" => Ok(Actor::System),
            _ => Err(ActorError(s.to_string())),
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = ActorError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Actor> for String {
    fn from(a: Actor) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_print_and_parse_the_same_way() {
        for text in ["person:alice", "cli:root", "warroom"] {
            assert_eq!(text.parse::<Actor>().unwrap().to_string(), text);
        }
        assert!("alice".parse::<Actor>().is_err());
        assert!("cli:".parse::<Actor>().is_err());
    }
}
