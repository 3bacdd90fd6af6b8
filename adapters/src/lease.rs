//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it:
//! take the lease when it is free or its holder stopped renewing for `duration`, renew it
//! while holding it. Every change is a replace carrying the `resourceVersion` read, so of two
//! replicas racing for it exactly one wins (the other gets 409 and stays a standby).
//!
//! Guarantees: [`Elector::try_hold`] answers `Ours` only after the API server accepted this
//! identity as holder with a fresh renew time. Assumes clocks of the replicas agree to well
//! within `duration` (the expiry is judged on the renew time the holder wrote). Caveat: the
//! lease alone does not stop a paused leader from writing after it resumes — the caller
//! fences its own writes with the instant until which it last knew it was leader.

use std::path::Path;
use std::time::Duration;

use http::Request;
use serde_json::{Value, json};

/// Who holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// This replica; `published` is the ledger copy's head as the lease said before this
    /// answer (on a takeover: what the previous leader published last).
    Ours {
        published: Option<String>,
        /// The replica this one took the lease from (on a takeover).
        previous: Option<String>,
    },
    /// Another replica, with the address and the ledger copy's head it published.
    Theirs {
        holder: String,
        address: Option<String>,
        published: Option<String>,
    },
}

pub struct Elector {
    client: kube::Client,
    path: String,
    collection: String,
    name: String,
    pub identity: String,
    duration: Duration,
    /// The other holder's lease as last read, and when (on this process's monotonic clock)
    /// it was first seen so: expiry is judged from that, never from the holder's wall clock.
    observed: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

/// The label the leader sets on its own pod.
pub const LEADER_LABEL: &str = "warroom.io/leader";

/// Published on the lease for standbys to point callers at.
pub const ADDRESS_ANNOTATION: &str = "warroom.io/address";

/// Published on the lease: where the leader's ledger copy ends (`<installation>/<segment
/// number>/<sha256>`), which the next leader must reach before it acts.
pub const HEAD_ANNOTATION: &str = "warroom.io/ledger-head";

fn annotation(lease: &Value, name: &str) -> Option<String> {
    lease["metadata"]["annotations"][name]
        .as_str()
        .map(str::to_owned)
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn micro(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Elector {
    /// `kubeconfig`: a file; `None`: the pod's service account.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Result<Elector, String> {
        crate::cluster::kubernetes::install_crypto();
        let mut config = match kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
            }
            None => kube::Config::incluster()
                .map_err(|e| format!("not running in a cluster ({e}); set lease.kubeconfig"))?,
        };
        config.connect_timeout = Some(Duration::from_secs(3));
        config.read_timeout = Some(duration / 3);
        config.default_retry = false;
        let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
        let collection = format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases");
        Ok(Elector {
            client,
            path: format!("{collection}/{name}"),
            collection,
            name: name.to_owned(),
            identity: identity.to_owned(),
            duration,
            observed: std::sync::Mutex::new(None),
        })
    }

    fn spec(&self, transitions: u64, acquired: &str) -> Value {
        json!({
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration.as_secs().max(1),
            "acquireTime": acquired,
            "renewTime": micro(now()),
            "leaseTransitions": transitions,
        })
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, kube::Error> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
            .map_err(kube::Error::HttpError)?;
        self.client.request::<Value>(req).await
    }

    /// Take or renew the lease once, publishing `address` for standbys and, when given, the
    /// ledger copy's `head` (left as it was when `None`: a replica taking over keeps its
    /// predecessor's until it has one of its own).
    pub async fn try_hold(&self, address: &str, head: Option<&str>) -> Result<Held, String> {
        let annotations = json!({ ADDRESS_ANNOTATION: address });
        let current = match self.send("GET", &self.path, None).await {
            Ok(v) => v,
            Err(kube::Error::Api(s)) if s.code == 404 => {
                let lease = json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": { "name": self.name, "annotations": annotations },
                    "spec": self.spec(0, &micro(now())),
                });
                return match self.send("POST", &self.collection, Some(&lease)).await {
                    Ok(_) => Ok(Held::Ours {
                        published: None,
                        previous: None,
                    }),
                    // Another replica created it first.
                    Err(kube::Error::Api(s)) if s.code == 409 => self.holder().await,
                    Err(e) => Err(format!("creating Lease {}: {e}", self.path)),
                };
            }
            Err(e) => return Err(format!("reading Lease {}: {e}", self.path)),
        };
        let spec = &current["spec"];
        let holder = spec["holderIdentity"].as_str().unwrap_or_default();
        let lasts = spec["leaseDurationSeconds"].as_u64().unwrap_or(15);
        // As client-go judges it: the lease lapsed when it has not changed for its duration
        // as this replica measures time. Comparing the holder's `renewTime` with this
        // replica's wall clock would hand over a lease being renewed as usual whenever the
        // two clocks differ by more than the fence's margin: two leaders at once.
        let seen = format!(
            "{holder}|{}|{}",
            spec["renewTime"], spec["leaseTransitions"]
        );
        let unchanged_since = {
            let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
            match &*observed {
                Some((was, at)) if *was == seen => *at,
                _ => {
                    let at = std::time::Instant::now();
                    *observed = Some((seen, at));
                    at
                }
            }
        };
        let expired = unchanged_since.elapsed() > Duration::from_secs(lasts);
        let transitions = spec["leaseTransitions"].as_u64().unwrap_or(0);
        let (transitions, acquired) = if holder == self.identity {
            (
                transitions,
                spec["acquireTime"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| micro(now())),
            )
        } else if holder.is_empty() || expired {
            (transitions + 1, micro(now()))
        } else {
            return Ok(Held::Theirs {
                holder: holder.to_owned(),
                address: annotation(&current, ADDRESS_ANNOTATION),
                published: annotation(&current, HEAD_ANNOTATION),
            });
        };
        let published = annotation(&current, HEAD_ANNOTATION);
        let mut next = current.clone();
        next["spec"] = self.spec(transitions, &acquired);
        next["metadata"]["annotations"][ADDRESS_ANNOTATION] = json!(address);
        if let Some(head) = head {
            next["metadata"]["annotations"][HEAD_ANNOTATION] = json!(head);
        }
        match self.send("PUT", &self.path, Some(&next)).await {
            Ok(_) => Ok(Held::Ours {
                published,
                previous: (!holder.is_empty() && holder != self.identity)
                    .then(|| holder.to_owned()),
            }),
            // Someone else changed it since we read it: they hold it now.
            Err(kube::Error::Api(s)) if s.code == 409 => self.holder().await,
            Err(e) => Err(format!("updating Lease {}: {e}", self.path)),
        }
    }

    /// Set (or clear) `warroom.io/leader=true` on this replica's own pod, which the `ha`
    /// overlay's Service selects: traffic goes to the leader only. Needs `POD_NAME` and
    /// `POD_NAMESPACE` (the downward API); without them there is nothing to label.
    pub async fn label_own_pod(&self, leading: bool) -> Result<(), String> {
        let (Ok(pod), Ok(ns)) = (std::env::var("POD_NAME"), std::env::var("POD_NAMESPACE")) else {
            return Ok(());
        };
        let value = if leading { json!("true") } else { Value::Null };
        let patch = json!({ "metadata": { "labels": { LEADER_LABEL: value } } });
        let req = Request::builder()
            .method("PATCH")
            .uri(format!("/api/v1/namespaces/{ns}/pods/{pod}"))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string().into_bytes())
            .map_err(|e| e.to_string())?;
        self.client
            .request::<Value>(req)
            .await
            .map(|_| ())
            .map_err(|e| format!("labelling pod {ns}/{pod}: {e}"))
    }

    async fn holder(&self) -> Result<Held, String> {
        let v = self
            .send("GET", &self.path, None)
            .await
            .map_err(|e| format!("reading Lease {}: {e}", self.path))?;
        let holder = v["spec"]["holderIdentity"].as_str().unwrap_or_default();
        let published = annotation(&v, HEAD_ANNOTATION);
        Ok(if holder == self.identity {
            Held::Ours {
                published,
                previous: None,
            }
        } else {
            Held::Theirs {
                holder: holder.to_owned(),
                address: annotation(&v, ADDRESS_ANNOTATION),
                published,
            }
        })
    }

    /// Give the lease up at a clean stop, with the ledger copy's final `head`: the holder is
    /// cleared so a standby takes over at its next try instead of waiting out the lease.
    /// Only while this replica still holds it (the replace carries the version read).
    pub async fn release(&self, head: Option<&str>) -> Result<(), String> {
        let current = self
            .send("GET", &self.path, None)
            .await
            .map_err(|e| format!("reading Lease {}: {e}", self.path))?;
        if current["spec"]["holderIdentity"].as_str() != Some(self.identity.as_str()) {
            return Ok(());
        }
        let mut next = current.clone();
        next["spec"]["holderIdentity"] = Value::Null;
        next["spec"]["renewTime"] = Value::Null;
        if let Some(head) = head {
            next["metadata"]["annotations"][HEAD_ANNOTATION] = json!(head);
        }
        self.send("PUT", &self.path, Some(&next))
            .await
            .map(|_| ())
            .map_err(|e| format!("releasing Lease {}: {e}", self.path))
    }
}
