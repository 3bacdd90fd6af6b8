//! AWS errors as warroom's typed executor errors: what was being done, what AWS said (its
//! error code and message), and a kind that doubles as a metric label.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::cluster::ClusterError;

/// `doing`: what warroom was doing, e.g. "CreateSnapshots for i-0abc".
pub fn classify<E, R>(doing: &str, err: SdkError<E, R>) -> ClusterError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let message = err.message().map(str::to_owned);
    match code {
        Some(code) => by_code(doing, &code, message.as_deref().unwrap_or("")),
        None if matches!(err, SdkError::TimeoutError(_)) => ClusterError::Upstream(format!(
            "{doing}: AWS did not answer in time ({}, retried); the call may or may not have taken effect: check before repeating it",
            crate::aws::describe_attempt()
        )),
        // Not an answer from AWS: a connection refused, a bad response.
        None => ClusterError::Upstream(format!(
            "{doing}: AWS could not be reached or answered badly: {}",
            DisplayErrorContext(&err)
        )),
    }
}

/// What AWS said, in one line: its code and message, or why there was no answer.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("AWS answered {code}: {message}"),
        (Some(code), None) => format!("AWS answered {code}"),
        _ => match err {
            SdkError::DispatchFailure(d) => format!("AWS could not be reached: {d:?}"),
            SdkError::TimeoutError(_) => "AWS did not answer in time".into(),
            other => format!("AWS answered badly: {}", DisplayErrorContext(other)),
        },
    }
}

/// The kind of an AWS error code.
pub fn by_code(doing: &str, code: &str, message: &str) -> ClusterError {
    let said = if message.is_empty() {
        format!("{doing}: AWS answered {code}")
    } else {
        format!("{doing}: AWS answered {code}: {message}")
    };
    match code {
        "UnauthorizedOperation"
        | "AccessDenied"
        | "AccessDeniedException"
        | "AuthFailure"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "SignatureDoesNotMatch" => ClusterError::Forbidden(said),
        c if c.ends_with(".NotFound") || c == "NoSuchEntity" => ClusterError::Absent(said),
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "SlowDown" => ClusterError::Throttled(said),
        "IncorrectState"
        | "IncorrectInstanceState"
        | "ConcurrentModification"
        | "ResourceInUse"
        | "ScalingActivityInProgress"
        | "UnsupportedOperation"
        | "OperationNotPermitted" => ClusterError::Conflict(said),
        _ => ClusterError::Upstream(said),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_kinds_that_name_what_was_done() {
        let e = by_code(
            "CreateSnapshots for i-1",
            "UnauthorizedOperation",
            "You are not authorized",
        );
        assert_eq!(e.kind(), "forbidden");
        assert!(
            e.to_string()
                .contains("CreateSnapshots for i-1: AWS answered UnauthorizedOperation")
        );
        assert_eq!(
            by_code("x", "Throttling", "Rate exceeded").kind(),
            "throttled"
        );
        assert_eq!(by_code("x", "RequestLimitExceeded", "").kind(), "throttled");
        assert_eq!(
            by_code("x", "IncorrectInstanceState", "").kind(),
            "conflict"
        );
        assert_eq!(by_code("x", "InternalError", "").kind(), "upstream");
        let gone = by_code(
            "DescribeInstances",
            "InvalidInstanceID.NotFound",
            "The instance ID 'i-1' does not exist",
        );
        assert_eq!(gone.kind(), "not_found");
        assert!(
            gone.to_string().starts_with("not found: DescribeInstances"),
            "{gone}"
        );
    }
}
