//! The request log tests assert on, with verbs named as kube-apiserver's authorizer names them.

use http::Method;
use serde::{Deserialize, Serialize};

/// One Kubernetes API request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// get, list, watch, create, update, patch, delete or deletecollection.
    pub verb: String,
    /// "" for the core group.
    pub group: String,
    /// The plural resource name, e.g. `pods`.
    pub resource: String,
    /// "" or log, eviction, scale, proxy, status.
    pub subresource: String,
    /// "" for cluster-scoped requests.
    pub namespace: String,
    /// The object's name; "" for a collection.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `?dryRun=All`: validated and answered, nothing persisted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// The authorizer's verb for an HTTP method on a single object (`named`) or a collection.
pub fn verb(method: &Method, named: bool, watch: bool) -> String {
    let verb = match *method {
        Method::GET | Method::HEAD if watch => "watch",
        Method::GET | Method::HEAD if named => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => return method.as_str().to_ascii_lowercase(),
    };
    verb.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_follow_the_apiserver() {
        assert_eq!(verb(&Method::GET, true, false), "get");
        assert_eq!(verb(&Method::GET, false, false), "list");
        assert_eq!(verb(&Method::GET, false, true), "watch");
        assert_eq!(verb(&Method::DELETE, false, false), "deletecollection");
        assert_eq!(verb(&Method::OPTIONS, false, false), "options");
    }
}
