//! Failures as metav1.Status, the shape every Kubernetes client parses errors from.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::catalog::ResourceType;

/// A request that failed the way kube-apiserver would fail it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn named(rt: &ResourceType, name: &str) -> Value {
        let mut details = json!({ "name": name, "kind": rt.plural });
        if !rt.group.is_empty() {
            details["group"] = json!(rt.group);
        }
        details
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.qualified()),
        )
        .with_details(Self::named(rt, name))
    }

    /// A path the server does not serve at all.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": "404 page not found" }] }))
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.qualified()),
        )
        .with_details(Self::named(rt, name))
    }

    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.qualified()
            ),
        )
        .with_details(Self::named(rt, name))
    }

    pub fn stale(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn invalid(rt: &ResourceType, name: &str, field: &str, problem: &str) -> Self {
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {field}: {problem}", rt.kind),
        )
        .with_details(json!({
            "name": name,
            "group": rt.group,
            "kind": rt.kind,
            "causes": [{ "reason": "FieldValueInvalid", "message": problem, "field": field }],
        }))
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// A failure with only a code, as injected faults produce; reason and message follow the code.
    pub fn for_code(code: u16, rt: Option<&ResourceType>, name: &str) -> Self {
        let what = match rt {
            Some(rt) if !name.is_empty() => format!("{} \"{name}\"", rt.qualified()),
            Some(rt) => rt.qualified(),
            None => "the requested resource".to_string(),
        };
        let (reason, message) = match code {
            400 => ("BadRequest", "the request was malformed".to_string()),
            401 => ("Unauthorized", "Unauthorized".to_string()),
            403 => ("Forbidden", format!("{what} is forbidden")),
            404 => ("NotFound", format!("{what} not found")),
            405 => (
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource".to_string(),
            ),
            409 => (
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {what}: the object has been modified; please apply your changes to the latest version and try again"
                ),
            ),
            410 => ("Expired", "the resource version is too old".to_string()),
            422 => ("Invalid", format!("{what} is invalid")),
            429 => (
                "TooManyRequests",
                "Too many requests, please try again later.".to_string(),
            ),
            500 => (
                "InternalError",
                "Internal error occurred: etcdserver: request timed out".to_string(),
            ),
            503 => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request".to_string(),
            ),
            504 => (
                "Timeout",
                "the server was unable to return a response in the time allotted".to_string(),
            ),
            _ => ("Unknown", format!("the server answered {code}")),
        };
        let mut error = Self::new(code, reason, message);
        if let Some(rt) = rt {
            error.details = Some(Self::named(rt, name));
        }
        error
    }

    pub fn to_status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details.clone().unwrap_or_else(|| json!({})),
            "code": self.code,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(code, &self.to_status());
        // kube-apiserver sends a throttle's wait both in the Status and as a header.
        let retry_after = self
            .details
            .as_ref()
            .and_then(|d| d["retryAfterSeconds"].as_u64());
        if let Some(seconds) = retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// A `Status` reporting success, as deletes and evictions answer.
pub fn success(code: u16, details: Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
        "code": code,
    })
}

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut response = (code, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn text_response(code: StatusCode, body: String) -> Response {
    let mut response = (code, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn not_found_names_the_qualified_resource() {
        let error = ApiError::not_found(catalog::deployments(), "api");
        let status = error.to_status();
        assert_eq!(status["message"], "deployments.apps \"api\" not found");
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["code"], 404);
    }

    #[test]
    fn injected_codes_get_their_reasons() {
        assert_eq!(ApiError::for_code(429, None, "").reason, "TooManyRequests");
        assert_eq!(
            ApiError::for_code(503, None, "").reason,
            "ServiceUnavailable"
        );
        assert_eq!(ApiError::for_code(599, None, "").reason, "Unknown");
    }
}
