//! Kubernetes API errors in words an on-call engineer can act on, and retries where safe.

use std::future::Future;
use std::time::Duration;

use super::super::ClusterError;

/// What went wrong talking to one cluster, with the operation named.
pub fn describe(cluster: &str, what: &str, e: &kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(s) if s.code == 404 => ClusterError::Failed(format!(
            "{what}: not found in cluster {cluster} ({})",
            s.message
        )),
        // A uid sent with a write (see `Rest::merge_patch_of`) that is no longer the name's.
        kube::Error::Api(s) if uid_refused(s) => ClusterError::Failed(format!(
            "{what}: refused by cluster {cluster}: the object of that name is no longer the one approved (it was deleted and made again since); nothing was changed ({})",
            s.message
        )),
        kube::Error::Api(s) if s.code == 403 => ClusterError::Failed(format!(
            "{what}: forbidden in cluster {cluster} — warroom's service account lacks this permission (see deploy/rbac.yaml; `warroom preflight` checks): {}",
            s.message
        )),
        kube::Error::Api(s) => ClusterError::Failed(format!(
            "{what}: cluster {cluster} answered {} {}: {}",
            s.code, s.reason, s.message
        )),
        other if timed_out(other) => ClusterError::Failed(format!(
            "{what}: the API server of cluster {cluster} did not answer in time (a try: {} s for each read, {} s for the whole answer; retried); the change may or may not have been applied: check before repeating it",
            super::read_timeout().as_secs_f64(),
            super::deadline::whole_call().as_secs_f64()
        )),
        other => ClusterError::Failed(format!(
            "{what}: cannot reach the API server of cluster {cluster}: {other}"
        )),
    }
}

/// The API server refused a write because the uid it carried is no longer the name's: a
/// precondition (409) or the immutable `metadata.uid` (422).
pub fn is_uid_mismatch(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if uid_refused(s))
}

fn uid_refused(s: &kube::core::Status) -> bool {
    matches!(s.code, 409 | 422)
        && (s.message.contains("UID in precondition") || s.message.contains("metadata.uid"))
}

/// Whether the call ran out of time waiting for an answer (anywhere in the error's causes).
fn timed_out(e: &kube::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        let text = c.to_string();
        if text.contains("timed out") || text.contains("deadline has elapsed") {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Conflicts, throttling, server errors and lost connections are worth another try.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 409 | 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

pub const ATTEMPTS: u32 = 4;

/// Run `op` up to [`ATTEMPTS`] times with exponential backoff on transient errors.
/// Only for idempotent operations (get, list, merge patches that set values, delete by UID).
pub async fn retry<T, F, Fut>(op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    retry_with(op, true).await
}

/// As [`retry`]; with `conflicts` false a 409 is final (a failed delete precondition means
/// the object is no longer the approved one: trying again cannot help).
pub async fn retry_with<T, F, Fut>(mut op: F, conflicts: bool) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e)
                if attempt < ATTEMPTS
                    && is_transient(&e)
                    && (conflicts || !matches!(&e, kube::Error::Api(s) if s.code == 409)) =>
            {
                let wait = delay.max(asked_wait(&e));
                tracing::warn!(attempt, error = %e, wait_ms = wait.as_millis() as u64, "transient Kubernetes API error; retrying");
                tokio::time::sleep(wait).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The wait a throttling API server asked for (`details.retryAfterSeconds`, which
/// kube-apiserver sends with its `Retry-After` header), at most [`MAX_ASKED_WAIT`]: an action
/// in progress is not held for longer on the server's word.
fn asked_wait(e: &kube::Error) -> Duration {
    match e {
        kube::Error::Api(s) => s
            .details
            .as_ref()
            .map(|d| Duration::from_secs(d.retry_after_seconds.into()))
            .unwrap_or_default()
            .min(MAX_ASKED_WAIT),
        _ => Duration::ZERO,
    }
}

const MAX_ASKED_WAIT: Duration = Duration::from_secs(10);

pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}
