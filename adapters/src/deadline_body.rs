//! An HTTP body that fails once a deadline passes before it ended: the server's limit on a
//! slow request body, and the client's limit on a Kubernetes answer trickled a byte at a time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `inner`, cut off with the error `late` makes when `until` fires first.
pub struct DeadlineBody<B> {
    inner: B,
    until: Pin<Box<Sleep>>,
    late: Box<dyn FnMut() -> BoxError + Send>,
}

impl<B> DeadlineBody<B> {
    pub fn new(inner: B, until: Sleep, late: impl FnMut() -> BoxError + Send + 'static) -> Self {
        DeadlineBody {
            inner,
            until: Box::pin(until),
            late: Box::new(late),
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.until.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err((this.late)()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
