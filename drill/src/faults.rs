//! Injected failures and access denials, and the SelfSubjectAccessReviews that report them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog;
use crate::record::RecordedRequest;
use crate::status::ApiError;

/// The identity the drill server pretends the client authenticated as.
pub const USER: &str = "system:serviceaccount:warroom:warroom-bot";

/// `POST /drill/faults`: the next `times` matching requests fail with `status`, or are
/// answered only after `delay_ms` (a slow or hung API server: without `status` the request
/// takes effect at once and its answer comes late, as when a connection hangs after the
/// server acted). With `trickle_ms` the answer's body goes out one byte every `trickle_ms` (a
/// server, or a proxy, that never quite stops answering). `retry_after` (seconds) goes out as `Retry-After` and
/// `details.retryAfterSeconds`, as kube-apiserver throttles. Absent fields match anything;
/// `"subresource": ""` matches only the main resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub verb: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub subresource: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub trickle_ms: Option<u64>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default = "one")]
    pub times: u32,
    /// Replaces the message the code would otherwise get.
    #[serde(default)]
    pub message: Option<String>,
}

fn one() -> u32 {
    1
}

/// `POST /drill/deny`: from then on this access is forbidden. Absent fields match anything.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    #[serde(default)]
    pub verb: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub subresource: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Why, as SelfSubjectAccessReview status.reason and the 403 message carry it.
    #[serde(default)]
    pub reason: Option<String>,
}

fn field_matches(rule: &Option<String>, actual: &str) -> bool {
    rule.as_deref().is_none_or(|r| r == "*" || r == actual)
}

/// The attributes an authorizer decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

impl Attributes {
    pub fn of(request: &RecordedRequest, name: &str) -> Self {
        Self {
            verb: request.verb.clone(),
            group: request.group.clone(),
            resource: request.resource.clone(),
            subresource: request.subresource.clone(),
            namespace: request.namespace.clone(),
            name: name.to_string(),
        }
    }
}

impl Attributes {
    /// Does a rule given as (verb, group, resource, subresource, namespace, name) match?
    fn matched_by(&self, rule: [&Option<String>; 6]) -> bool {
        let actual = [
            &self.verb,
            &self.group,
            &self.resource,
            &self.subresource,
            &self.namespace,
            &self.name,
        ];
        rule.iter().zip(actual).all(|(r, a)| field_matches(r, a))
    }
}

impl Fault {
    fn matches(&self, a: &Attributes) -> bool {
        a.matched_by([
            &self.verb,
            &self.group,
            &self.resource,
            &self.subresource,
            &self.namespace,
            &self.name,
        ])
    }
}

impl Deny {
    fn matches(&self, a: &Attributes) -> bool {
        a.matched_by([
            &self.verb,
            &self.group,
            &self.resource,
            &self.subresource,
            &self.namespace,
            &self.name,
        ])
    }
}

/// What one matching fault does to a request.
#[derive(Debug)]
pub struct Injected {
    /// The failure to answer with; `None`: serve the request.
    pub error: Option<ApiError>,
    /// How the answer is held back.
    pub timing: Timing,
}

/// How an injected fault holds an answer back.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Before any of it is sent.
    pub delay: Option<std::time::Duration>,
    /// Between each byte of its body.
    pub trickle: Option<std::time::Duration>,
}

/// The faults and denials in force.
#[derive(Debug, Default)]
pub struct Access {
    pub faults: Vec<Fault>,
    pub denies: Vec<Deny>,
}

impl Access {
    pub fn add_fault(&mut self, fault: Fault) -> Result<(), ApiError> {
        match fault.status {
            Some(status) if !(400..=599).contains(&status) => {
                return Err(ApiError::bad_request(format!(
                    "fault status must be an HTTP error code (400-599), not {status}"
                )));
            }
            None if fault.delay_ms.is_none() && fault.trickle_ms.is_none() => {
                return Err(ApiError::bad_request(
                    "a fault needs a status (400-599), a delay_ms, a trickle_ms, or a status with either",
                ));
            }
            _ => {}
        }
        if fault.times > 0 {
            self.faults.push(fault);
        }
        Ok(())
    }

    /// The denial that applies, if any.
    pub fn denial(&self, a: &Attributes) -> Option<&Deny> {
        self.denies.iter().find(|d| d.matches(a))
    }

    /// Consumes one use of the first matching fault and returns what it injects.
    pub fn take_fault(&mut self, a: &Attributes) -> Option<Injected> {
        let index = self.faults.iter().position(|f| f.matches(a))?;
        let fault = self.faults.get_mut(index)?;
        fault.times -= 1;
        let rt = catalog::resource(&a.group, &a.resource);
        let error = fault.status.map(|status| {
            let mut error = ApiError::for_code(status, rt, &a.name);
            if let Some(message) = &fault.message {
                error.message.clone_from(message);
            }
            if let Some(seconds) = fault.retry_after {
                error.details = Some(json!({ "name": a.name, "retryAfterSeconds": seconds }));
            }
            error
        });
        let injected = Injected {
            error,
            timing: Timing {
                delay: fault.delay_ms.map(std::time::Duration::from_millis),
                trickle: fault.trickle_ms.map(std::time::Duration::from_millis),
            },
        };
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(injected)
    }
}

/// The 403 kube-apiserver sends when RBAC says no.
pub fn forbidden(a: &Attributes, deny: &Deny) -> ApiError {
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let what = if a.name.is_empty() {
        qualified
    } else {
        format!("{qualified} \"{}\"", a.name)
    };
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    let mut message = format!(
        "{what} is forbidden: User \"{USER}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        a.verb, a.group
    );
    if let Some(reason) = &deny.reason {
        message.push_str(": ");
        message.push_str(reason);
    }
    let mut details = json!({ "kind": a.resource });
    if !a.name.is_empty() {
        details["name"] = json!(a.name);
    }
    if !a.group.is_empty() {
        details["group"] = json!(a.group);
    }
    ApiError::new(403, "Forbidden", message).with_details(details)
}

/// Answers a SelfSubjectAccessReview: allowed unless a denial matches.
pub fn review(access: &Access, body: &[u8]) -> Result<Value, ApiError> {
    let rt = catalog::resource("authorization.k8s.io", "selfsubjectaccessreviews");
    let mut review: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("error decoding SelfSubjectAccessReview: {e}"))
    })?;
    if !review.is_object() {
        return Err(ApiError::bad_request(
            "a SelfSubjectAccessReview must be a JSON object",
        ));
    }
    if let Some(rt) = rt
        && let Err(e) = crate::validate::typed(rt.kind, &review)
    {
        return Err(ApiError::bad_request(format!(
            "SelfSubjectAccessReview in version \"v1\" cannot be handled as a SelfSubjectAccessReview: {e}"
        )));
    }
    let spec = review.get("spec").cloned().unwrap_or(json!({}));
    let resource = spec.get("resourceAttributes").filter(|v| v.is_object());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    let status = match (resource, non_resource) {
        (Some(attrs), None) => {
            let get = |k: &str| {
                attrs
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let a = Attributes {
                verb: get("verb"),
                group: get("group"),
                resource: get("resource"),
                subresource: get("subresource"),
                namespace: get("namespace"),
                name: get("name"),
            };
            match access.denial(&a) {
                Some(deny) => json!({
                    "allowed": false,
                    "reason": deny.reason.clone().unwrap_or_else(|| format!(
                        "RBAC: no rule grants {} on {}{} to {USER}",
                        a.verb,
                        a.resource,
                        if a.subresource.is_empty() { String::new() } else { format!("/{}", a.subresource) }
                    )),
                }),
                None => {
                    json!({ "allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"warroom-bot\" of ClusterRole \"warroom-responder\" to ServiceAccount \"warroom/warroom-bot\"" })
                }
            }
        }
        (None, Some(_)) => json!({ "allowed": true }),
        _ => {
            return Err(ApiError::new(
                422,
                "Invalid",
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
    };
    if let Some(map) = review.as_object_mut() {
        map.insert("apiVersion".into(), json!("authorization.k8s.io/v1"));
        map.insert("kind".into(), json!("SelfSubjectAccessReview"));
        map.insert("metadata".into(), json!({ "creationTimestamp": null }));
        map.insert("status".into(), status);
    }
    Ok(review)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, resource: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource: resource.into(),
            namespace: "payments".into(),
            ..Attributes::default()
        }
    }

    #[test]
    fn faults_are_consumed() {
        let mut access = Access::default();
        let fault: Fault = serde_json::from_value(json!({"verb": "patch", "resource": "pods", "subresource": "", "status": 409, "times": 2}))
            .expect("fault");
        access.add_fault(fault).expect("valid");
        assert!(access.take_fault(&attrs("get", "pods")).is_none());
        let code = |i: Option<Injected>| i.and_then(|i| i.error).map(|e| (e.code, e.reason));
        assert_eq!(
            code(access.take_fault(&attrs("patch", "pods"))),
            Some((409, "Conflict"))
        );
        assert_eq!(
            code(access.take_fault(&attrs("patch", "pods"))),
            Some((409, "Conflict"))
        );
        assert!(access.take_fault(&attrs("patch", "pods")).is_none());
        let bad: Fault = serde_json::from_value(json!({"status": 200})).expect("fault");
        assert!(access.add_fault(bad).is_err());
        let nothing: Fault = serde_json::from_value(json!({"verb": "get"})).expect("fault");
        assert!(
            access.add_fault(nothing).is_err(),
            "neither status nor delay"
        );
    }

    #[test]
    fn a_delay_holds_the_answer_and_a_throttle_says_when_to_come_back() {
        let mut access = Access::default();
        let slow: Fault =
            serde_json::from_value(json!({"verb": "patch", "delay_ms": 1500})).expect("fault");
        access.add_fault(slow).expect("valid");
        let held = access.take_fault(&attrs("patch", "pods")).expect("matched");
        assert!(held.error.is_none(), "served, late");
        assert_eq!(
            held.timing.delay,
            Some(std::time::Duration::from_millis(1500))
        );
        let throttle: Fault =
            serde_json::from_value(json!({"verb": "get", "status": 429, "retry_after": 2}))
                .expect("fault");
        access.add_fault(throttle).expect("valid");
        let error = access
            .take_fault(&attrs("get", "pods"))
            .and_then(|i| i.error)
            .expect("429");
        assert_eq!(error.code, 429);
        assert_eq!(error.details.expect("details")["retryAfterSeconds"], 2);
    }

    #[test]
    fn denials_answer_reviews() {
        let mut access = Access::default();
        access.denies.push(Deny {
            verb: Some("create".into()),
            group: Some("networking.k8s.io".into()),
            resource: Some("networkpolicies".into()),
            subresource: None,
            namespace: None,
            name: None,
            reason: Some("no netpol rights".into()),
        });
        let body = br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"create","group":"networking.k8s.io","resource":"networkpolicies","namespace":"payments"}}}"#;
        let out = review(&access, body).expect("review");
        assert_eq!(out["status"]["allowed"], false);
        assert_eq!(out["status"]["reason"], "no netpol rights");
        assert_eq!(
            review(&access, br#"{"spec":{}}"#)
                .expect_err("empty spec")
                .code,
            422
        );
        assert_eq!(review(&access, b"[").expect_err("bad json").code, 400);
    }
}
