//! References to secrets kept outside the plan: an environment variable or a file.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::problem::with_hint;

pub(crate) const SECRET_HINT: &str =
    "write { env = \"NAME\" } or { file = \"/path\" } and keep the value out of the plan";

/// Where a secret lives. The plan never holds the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

/// Why a secret could not be read; names the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {name} is not set")]
    EnvMissing { name: String },
    #[error("environment variable {name} is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error("cannot read secret file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret {source_name} is empty")]
    Empty { source_name: String },
}

impl SecretRef {
    /// Reads the secret now; a trailing newline (as left by `echo` or editors) is dropped.
    pub fn resolve(&self) -> Result<String, SecretError> {
        let raw = match self {
            SecretRef::Env(name) => std::env::var(name).map_err(|e| match e {
                std::env::VarError::NotPresent => SecretError::EnvMissing { name: name.clone() },
                std::env::VarError::NotUnicode(_) => {
                    SecretError::EnvNotUnicode { name: name.clone() }
                }
            })?,
            SecretRef::File(path) => {
                std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?
            }
        };
        let value = raw.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(SecretError::Empty {
                source_name: self.to_string(),
            });
        }
        Ok(value.to_owned())
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret reference { env = \"NAME\" } or { file = \"/path\" }")
    }

    // A literal here is a leaked secret: refuse it without repeating it.
    fn visit_str<E: de::Error>(self, _value: &str) -> Result<SecretRef, E> {
        Err(E::custom(with_hint(
            "a secret must be a reference, not a literal value",
            SECRET_HINT,
        )))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
        let mut found: Option<SecretRef> = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            let item = match key.as_str() {
                "env" => SecretRef::Env(value),
                "file" => SecretRef::File(PathBuf::from(value)),
                other => {
                    return Err(de::Error::custom(with_hint(
                        format!("unknown secret source `{other}`"),
                        SECRET_HINT,
                    )));
                }
            };
            if found.replace(item).is_some() {
                return Err(de::Error::custom(with_hint(
                    "a secret reference names exactly one source",
                    "keep either env or file",
                )));
            }
        }
        match found {
            Some(SecretRef::Env(name)) if !is_env_name(&name) => Err(de::Error::custom(with_hint(
                format!("`{name}` is not an environment variable name"),
                "use letters, digits and underscores, e.g. SLACK_BOT_TOKEN",
            ))),
            Some(SecretRef::File(path)) if path.as_os_str().is_empty() => Err(de::Error::custom(
                with_hint("the secret file path is empty", SECRET_HINT),
            )),
            Some(found) => Ok(found),
            None => Err(de::Error::custom(with_hint(
                "empty secret reference",
                SECRET_HINT,
            ))),
        }
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Debug, Deserialize)]
    struct Doc {
        token: SecretRef,
    }

    fn parse(text: &str) -> Result<SecretRef, String> {
        toml::from_str::<Doc>(text)
            .map(|d| d.token)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn resolves_from_env() {
        // Unique name: tests run in parallel in one process.
        let name = "WARROOM_CONFIG_TEST_SECRET_FROM_ENV";
        // SAFETY: no other thread reads or writes this variable.
        unsafe { std::env::set_var(name, "s3cr3t-value\n") };
        assert_eq!(
            SecretRef::Env(name.into()).resolve().unwrap(),
            "s3cr3t-value"
        );
    }

    #[test]
    fn missing_env_error_names_the_variable() {
        let err = SecretRef::Env("WARROOM_CONFIG_TEST_NEVER_SET".into())
            .resolve()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable WARROOM_CONFIG_TEST_NEVER_SET is not set"
        );
    }

    #[test]
    fn resolves_from_file_dropping_the_trailing_newline() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "hunter2-file-secret").unwrap();
        let secret = SecretRef::File(file.path().to_path_buf());
        assert_eq!(secret.resolve().unwrap(), "hunter2-file-secret");
    }

    #[test]
    fn file_error_names_the_path_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let err = SecretRef::File(path.clone())
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn empty_file_is_an_error_naming_the_source() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = SecretRef::File(file.path().to_path_buf())
            .resolve()
            .unwrap_err();
        assert!(matches!(err, SecretError::Empty { .. }));
        assert!(err.to_string().contains("file "));
    }

    #[test]
    fn deserializes_env_and_file_references() {
        assert_eq!(
            parse("token = { env = \"SLACK_BOT_TOKEN\" }"),
            Ok(SecretRef::Env("SLACK_BOT_TOKEN".into()))
        );
        assert_eq!(
            parse("token = { file = \"/run/secrets/x\" }"),
            Ok(SecretRef::File("/run/secrets/x".into()))
        );
    }

    #[test]
    fn literal_secret_is_refused_without_echoing_it() {
        let err = parse("token = \"xoxb-123-456-abcdef\"").unwrap_err();
        assert!(!err.contains("xoxb"), "{err}");
        assert!(err.contains("reference"), "{err}");
    }

    #[test]
    fn both_sources_at_once_is_refused() {
        assert!(parse("token = { env = \"A\", file = \"/b\" }").is_err());
    }
}
