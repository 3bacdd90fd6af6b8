//! Reading a ledger from the CLI: directly, or through the `warroom serve` that owns it.
//!
//! sled lets one process open a ledger. While a server runs on the folder, the CLI's read
//! and export commands ask that server instead (its address and a local read-only token are
//! in `<data>/serve.json`, readable only by the user who started it).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde::Deserialize;
use serde_json::Value;
use warroom_commands::{Incident, IncidentId};
use warroom_ledger::{Entry, EvidenceRecord, Export, Ledger, LedgerError};

use crate::context;
use crate::server::SERVER_FILE;

pub enum Reader {
    Local(Ledger),
    Remote(Remote),
}

impl Reader {
    /// Open a read-only copy of the ledger (the folder itself is never written), or reach
    /// the server that holds it.
    pub fn open(dir: &Path) -> anyhow::Result<Reader> {
        match context::open_read_only(dir) {
            Ok(l) => Ok(Reader::Local(l)),
            Err(LedgerError::Locked { .. }) => match Remote::find(dir)? {
                Some(remote) => {
                    eprintln!(
                        "warroom: {} is in use by warroom serve at {}; reading through it",
                        dir.display(),
                        remote.url
                    );
                    Ok(Reader::Remote(remote))
                }
                None => Err(LedgerError::Locked {
                    dir: dir.to_path_buf(),
                }
                .into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub fn place(&self) -> String {
        match self {
            Reader::Local(l) => l.dir().display().to_string(),
            Reader::Remote(r) => r.url.clone(),
        }
    }

    pub fn incidents(&self) -> anyhow::Result<Vec<Incident>> {
        match self {
            Reader::Local(l) => Ok(l.incidents()?),
            Reader::Remote(r) => {
                let v = r.get("/api/v1/incidents")?;
                let list = v
                    .get("incidents")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                list.into_iter()
                    .map(|mut i| {
                        if let Some(o) = i.as_object_mut() {
                            o.remove("pending");
                        }
                        serde_json::from_value(i)
                            .context("the server sent an incident this CLI cannot read")
                    })
                    .collect()
            }
        }
    }

    pub fn show(
        &self,
        id: &IncidentId,
    ) -> anyhow::Result<(Incident, Vec<Entry>, Vec<EvidenceRecord>)> {
        match self {
            Reader::Local(l) => Ok((l.incident(id)?, l.timeline(id)?, l.evidence(id)?)),
            Reader::Remote(r) => {
                let mut v = r.get(&format!("/api/v1/incidents/{id}"))?;
                let mut entries = v.get_mut("timeline").map(Value::take).unwrap_or_default();
                for e in entries.as_array_mut().into_iter().flatten() {
                    // Renderings the API adds for the console; the entry is the rest.
                    if let Some(o) = e.as_object_mut() {
                        o.remove("describe");
                        o.remove("changes");
                    }
                }
                Ok((
                    serde_json::from_value(
                        v.get_mut("incident").map(Value::take).unwrap_or_default(),
                    )?,
                    serde_json::from_value(entries)?,
                    serde_json::from_value(
                        v.get_mut("evidence").map(Value::take).unwrap_or_default(),
                    )?,
                ))
            }
        }
    }

    pub fn export(&self, id: &IncidentId, at: String, by: String) -> anyhow::Result<Export> {
        match self {
            Reader::Local(l) => Ok(l.export(id, at, by)?),
            Reader::Remote(r) => {
                let v = r.get_as(&format!("/api/v1/incidents/{id}/export"), &by)?;
                serde_json::from_value(v).context("the server sent an export this CLI cannot read")
            }
        }
    }

    /// `ledger verify`: locally with the evidence re-hashed through `evidence` (when given),
    /// or by the server, which re-hashes through its own store.
    pub fn verify(
        &self,
        evidence: Option<&dyn warroom_adapters::evidence::EvidenceStore>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<crate::verify::Report> {
        match self {
            Reader::Local(l) => Ok(crate::verify::run(l, evidence, progress)?),
            Reader::Remote(r) => {
                let path = if evidence.is_some() {
                    "/api/v1/ledger/verify"
                } else {
                    "/api/v1/ledger/verify?skip_evidence=true"
                };
                Ok(serde_json::from_value(r.get(path)?)
                    .context("the server sent a verify report this CLI cannot read")?)
            }
        }
    }
}

/// Largest answer the CLI reads from the server (an export of a very big incident).
const MAX_RESPONSE: u64 = 4 << 30;

pub struct Remote {
    pub url: String,
    token: String,
}

impl Remote {
    /// The server named in `<dir>/serve.json`, if one wrote it.
    pub fn find(dir: &Path) -> anyhow::Result<Option<Remote>> {
        #[derive(Deserialize)]
        struct File {
            url: String,
            token: String,
        }
        let path = dir.join(SERVER_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(anyhow!(
                    "cannot read {}: {e} (run the CLI as the user who started warroom serve)",
                    path.display()
                ));
            }
        };
        let f: File = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a warroom server file", path.display()))?;
        Ok(Some(Remote {
            url: f.url,
            token: f.token,
        }))
    }

    /// The running drill's simulated clusters: (name, API URL).
    pub fn drill_clusters(&self) -> anyhow::Result<Vec<(String, String)>> {
        let v = self.get("/api/v1/drill/clusters")?;
        Ok(v["clusters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_owned(),
                    c["url"].as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.get_as(path, &context::cli_actor().to_string())
    }

    fn get_as(&self, path: &str, actor: &str) -> anyhow::Result<Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Verifying or exporting a big ledger takes a while; a dead server is still
            // noticed when the connection fails.
            .timeout_global(Some(Duration::from_secs(600)))
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let url = format!("{}{path}", self.url);
        let mut resp = agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .header("x-warroom-actor", actor)
            .call()
            .with_context(|| {
                format!(
                    "cannot reach warroom serve at {} (is it still running?)",
                    self.url
                )
            })?;
        let status = resp.status();
        // Exports of big incidents run to hundreds of MB; the default 10 MB cap would refuse
        // them.
        let body: Value = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_json()
            .with_context(|| format!("{url} answered {status} with no JSON"))?;
        if status.is_success() {
            Ok(body)
        } else {
            let message = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            if status.as_u16() == 404 {
                Err(anyhow!(NotFound(message.to_owned())))
            } else {
                Err(anyhow!("warroom serve answered {status}: {message}"))
            }
        }
    }
}

/// The server said the incident does not exist: bad input, like a local lookup.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);
