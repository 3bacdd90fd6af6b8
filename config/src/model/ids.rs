//! Typed identifiers, so a person id cannot be passed where a role id is expected.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A person in the plan; the identity that approvals count, whatever chat account is used.
    PersonId
);
string_id!(
    /// A role such as `responder` or `commander`.
    RoleId
);
string_id!(
    /// A team of people, e.g. `platform`.
    TeamId
);
string_id!(
    /// An escalation policy, e.g. `primary-oncall`.
    PolicyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_deserialize_from_plain_strings_and_display_them() {
        #[derive(Deserialize)]
        struct Doc {
            who: PersonId,
        }
        let doc: Doc = toml::from_str("who = \"alice\"").unwrap();
        assert_eq!(doc.who, PersonId::from("alice"));
        assert_eq!(doc.who.to_string(), "alice");
    }
}
