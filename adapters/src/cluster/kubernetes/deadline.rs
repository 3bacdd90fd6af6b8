//! A deadline on the whole of each Kubernetes API call: the answer's head and every byte of
//! its body.
//!
//! Why: kube's read timeout is per read, so an API server (or a proxy in front of it) that
//! trickles a body a byte at a time could hold an approved action for as long as it liked.
//!
//! Guarantees: a call whose answer is not complete [`whole_call`] after it was sent fails
//! with an I/O "timed out" error, which `errors::describe` words as "did not answer in time
//! … the change may or may not have been applied". Assumes no call is meant to stream
//! without end (warroom makes no watch or follow calls). Caveat: the request was sent, so
//! the server may have acted; the caller says so rather than retrying blindly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use tokio::time::Instant;

use crate::deadline_body::{BoxError, DeadlineBody};

/// The whole-call deadline: twice the per-read timeout, which leaves room for a large (but
/// moving) answer such as a capped log.
pub fn whole_call() -> Duration {
    super::read_timeout() * 2
}

fn timed_out(limit: Duration) -> BoxError {
    Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!(
            "the whole answer timed out: not complete within {} s",
            limit.as_secs_f64()
        ),
    ))
}

/// Layer for kube's client stack.
#[derive(Clone, Copy)]
pub struct Deadline(pub Duration);

impl<S> tower::Layer<S> for Deadline {
    type Service = WithDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithDeadline {
            inner,
            limit: self.0,
        }
    }
}

#[derive(Clone)]
pub struct WithDeadline<S> {
    inner: S,
    limit: Duration,
}

impl<S, Req, B> tower::Service<Request<Req>> for WithDeadline<S>
where
    S: tower::Service<Request<Req>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Unpin,
{
    type Response = Response<DeadlineBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Req>) -> Self::Future {
        let limit = self.limit;
        let until = Instant::now() + limit;
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = tokio::time::timeout_at(until, answer)
                .await
                .map_err(|_| timed_out(limit))?
                .map_err(Into::into)?;
            Ok(response.map(|inner| {
                DeadlineBody::new(inner, tokio::time::sleep_until(until), move || {
                    timed_out(limit)
                })
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body::Frame;
    use http_body_util::BodyExt;
    use tokio::time::Sleep;

    /// A body that yields one byte per `every`, `n` times.
    struct Trickle {
        left: usize,
        every: Duration,
        next: Option<Pin<Box<Sleep>>>,
    }

    impl Body for Trickle {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            let every = self.every;
            let sleep = self
                .next
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.next = None;
                    self.left -= 1;
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x")))))
                }
                Poll::Pending => Poll::Pending,
            }
        }
    }

    fn trickling(
        n: usize,
    ) -> WithDeadline<
        impl tower::Service<
            Request<()>,
            Response = Response<Trickle>,
            Error = BoxError,
            Future: Send + 'static,
        >,
    > {
        let svc = tower::service_fn(move |_req: Request<()>| async move {
            Ok::<_, BoxError>(Response::new(Trickle {
                left: n,
                every: Duration::from_secs(1),
                next: None,
            }))
        });
        tower::Layer::layer(&Deadline(Duration::from_secs(10)), svc)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_trickled_past_the_deadline_fails_as_timed_out() {
        use tower::Service;
        let started = Instant::now();
        let response = trickling(60).call(Request::new(())).await.expect("head");
        let err = response.into_body().collect().await.expect_err("cut off");
        assert!(err.to_string().contains("timed out"), "{err}");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(10),
            "ends at the deadline"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_within_the_deadline_arrives_whole() {
        use tower::Service;
        let response = trickling(5).call(Request::new(())).await.expect("head");
        let body = response.into_body().collect().await.expect("whole");
        assert_eq!(body.to_bytes(), Bytes::from_static(b"xxxxx"));
    }
}
