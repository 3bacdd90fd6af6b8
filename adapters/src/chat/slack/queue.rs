//! One send lane per Slack channel: Slack allows about one message per second per channel
//! and answers bursts with `429 Retry-After: N`.
//!
//! Guarantees: calls for one channel go out one at a time, in the order they were submitted,
//! at least `interval` apart. A rate-limited call is repeated after the wait Slack asked for
//! (a 429 means Slack did nothing), never dropped and never overtaken by a later call for the
//! same channel. Once submitted, a call is made even if the submitter stops waiting for it.
//! Caveats: other errors are returned, not retried (a repeated `chat.postMessage` could post
//! twice). A call that would have to wait on rate limits longer than `max_wait` in total is
//! given up with the 429 as its error, so a channel cannot stall forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::web_api::{ApiError, Args, WebApi};

/// A lane with nothing to send for this long ends; the next call starts a new one.
const IDLE: Duration = Duration::from_secs(60);

type Reply = oneshot::Sender<Result<Value, ApiError>>;

struct Job {
    method: &'static str,
    args: Args,
    reply: Reply,
}

/// The lanes by channel id, each with a number so an ending lane removes only itself.
type Lanes = Arc<Mutex<HashMap<String, (u64, mpsc::UnboundedSender<Job>)>>>;

pub struct SendQueue {
    api: Arc<WebApi>,
    interval: Duration,
    max_wait: Duration,
    lanes: Lanes,
    next_lane: AtomicU64,
}

impl SendQueue {
    pub fn new(api: Arc<WebApi>, interval: Duration, max_wait: Duration) -> Self {
        SendQueue {
            api,
            interval,
            max_wait,
            lanes: Arc::default(),
            next_lane: AtomicU64::new(1),
        }
    }

    /// Queues a call for `channel` and returns where its answer will arrive. Not async, so
    /// the order of `submit` calls is the order of sending.
    pub fn submit(
        &self,
        channel: &str,
        method: &'static str,
        args: Args,
    ) -> Result<oneshot::Receiver<Result<Value, ApiError>>, ApiError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ApiError::Transport {
            method,
            message: "no async runtime to send from".into(),
        })?;
        let (reply, answer) = oneshot::channel();
        let mut job = Job {
            method,
            args,
            reply,
        };
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        // Sending under the lock: a lane only ends while holding it and finding its queue
        // empty, so a job is never left in a lane that has ended.
        if let Some((_, lane)) = lanes.get(channel) {
            match lane.send(job) {
                Ok(()) => return Ok(answer),
                // The lane's task is gone (the runtime shut it down): start a new one.
                Err(mpsc::error::SendError(returned)) => job = returned,
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let number = self.next_lane.fetch_add(1, Ordering::Relaxed);
        // A fresh channel with its receiver alive cannot refuse.
        let _ = tx.send(job);
        lanes.insert(channel.to_owned(), (number, tx));
        drop(lanes);
        let lane = Lane {
            channel: channel.to_owned(),
            number,
            api: self.api.clone(),
            interval: self.interval,
            max_wait: self.max_wait,
            lanes: self.lanes.clone(),
        };
        runtime.spawn(lane.run(rx));
        Ok(answer)
    }

    /// Queues a call and waits for its answer.
    pub async fn send(
        &self,
        channel: &str,
        method: &'static str,
        args: Args,
    ) -> Result<Value, ApiError> {
        self.submit(channel, method, args)?
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Transport {
                    method,
                    message: "the send queue stopped before answering".into(),
                })
            })
    }
}

struct Lane {
    channel: String,
    number: u64,
    api: Arc<WebApi>,
    interval: Duration,
    max_wait: Duration,
    lanes: Lanes,
}

impl Lane {
    async fn run(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        let mut next_send = Instant::now();
        loop {
            let job = match tokio::time::timeout(IDLE, jobs.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(_) => {
                    let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                    if jobs.is_empty() {
                        if lanes
                            .get(&self.channel)
                            .is_some_and(|(n, _)| *n == self.number)
                        {
                            lanes.remove(&self.channel);
                        }
                        return;
                    }
                    continue;
                }
            };
            next_send = self.deliver(job, next_send).await;
        }
    }

    /// Sends one job, repeating it while rate-limited; returns when the next may go.
    async fn deliver(&self, job: Job, mut next_send: Instant) -> Instant {
        let first_try = Instant::now();
        loop {
            tokio::time::sleep_until(next_send).await;
            let result = self.api.call(job.method, &job.args).await;
            match result {
                Err(ApiError::RateLimited { retry_after, .. })
                    if first_try.elapsed() + retry_after <= self.max_wait =>
                {
                    tracing::info!(
                        channel = %self.channel,
                        method = job.method,
                        wait_s = retry_after.as_secs_f32(),
                        "Slack rate limit; sending the same message again after the wait"
                    );
                    next_send = Instant::now() + retry_after.max(self.interval);
                }
                other => {
                    // Nobody waiting any more is fine: the call was still made.
                    let _ = job.reply.send(other);
                    return Instant::now() + self.interval;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fake_slack::{FakeSlack, TOKEN};
    use super::*;

    fn queue(slack: &FakeSlack, interval: Duration, max_wait: Duration) -> SendQueue {
        let api = WebApi::new(&slack.base, TOKEN, Duration::from_secs(5)).unwrap();
        SendQueue::new(Arc::new(api), interval, max_wait)
    }

    fn message(channel: &str, i: usize) -> Args {
        Args::Json(json!({"channel": channel, "text": format!("message {i}")}))
    }

    fn texts(slack: &FakeSlack, channel: &str) -> Vec<String> {
        slack
            .answered("chat.postMessage")
            .into_iter()
            .filter(|c| c.args["channel"] == channel)
            .map(|c| c.args["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_rate_limited_burst_is_delivered_complete_and_in_order() {
        let slack = FakeSlack::start().await;
        slack.rate_limit("C1", 3);
        let q = queue(&slack, Duration::from_millis(5), Duration::from_secs(60));
        let started = Instant::now();
        let answers: Vec<_> = (0..30)
            .map(|i| {
                q.submit("C1", "chat.postMessage", message("C1", i))
                    .unwrap()
            })
            .collect();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        let expected: Vec<String> = (0..30).map(|i| format!("message {i}")).collect();
        assert_eq!(texts(&slack, "C1"), expected);
        // Three 429s, each waited out (Retry-After: 1) and the same message sent again.
        let calls = slack.calls();
        assert_eq!(calls.len(), 33);
        assert!(
            calls[..3]
                .iter()
                .all(|c| c.limited && c.args["text"] == "message 0")
        );
        assert!(started.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test]
    async fn messages_to_one_channel_are_spaced_by_the_interval() {
        let slack = FakeSlack::start().await;
        let interval = Duration::from_millis(40);
        let q = queue(&slack, interval, Duration::from_secs(60));
        let answers: Vec<_> = (0..5)
            .map(|i| {
                q.submit("C1", "chat.postMessage", message("C1", i))
                    .unwrap()
            })
            .collect();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        let calls = slack.calls();
        for pair in calls.windows(2) {
            assert!(pair[1].at - pair[0].at >= interval);
        }
    }

    #[tokio::test]
    async fn one_rate_limited_channel_does_not_hold_up_another() {
        let slack = FakeSlack::start().await;
        slack.rate_limit("C1", 1);
        let q = Arc::new(queue(
            &slack,
            Duration::from_millis(5),
            Duration::from_secs(60),
        ));
        let slow = q
            .submit("C1", "chat.postMessage", message("C1", 0))
            .unwrap();
        q.send("C2", "chat.postMessage", message("C2", 0))
            .await
            .unwrap();
        assert!(texts(&slack, "C1").is_empty(), "C2 waited for C1");
        slow.await.unwrap().unwrap();
        assert_eq!(texts(&slack, "C1"), ["message 0"]);
    }

    #[tokio::test]
    async fn waits_beyond_the_limit_are_reported_not_endless() {
        let slack = FakeSlack::start().await;
        slack.rate_limit("C1", 100);
        let q = queue(&slack, Duration::from_millis(5), Duration::from_millis(500));
        let e = q
            .send("C1", "chat.postMessage", message("C1", 0))
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::RateLimited { .. }), "{e}");
        // Other errors come back as they are, once.
        let e = q
            .send("C_GONE", "chat.postMessage", message("C_GONE", 0))
            .await
            .unwrap_err();
        assert_eq!(e.slack_error(), Some("channel_not_found"));
        assert_eq!(
            slack
                .calls()
                .iter()
                .filter(|c| c.args["channel"] == "C_GONE")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn a_message_is_sent_even_if_nobody_waits_for_it() {
        let slack = FakeSlack::start().await;
        let q = queue(&slack, Duration::from_millis(5), Duration::from_secs(60));
        drop(
            q.submit("C1", "chat.postMessage", message("C1", 0))
                .unwrap(),
        );
        q.send("C1", "chat.postMessage", message("C1", 1))
            .await
            .unwrap();
        assert_eq!(texts(&slack, "C1"), ["message 0", "message 1"]);
    }

    #[test]
    fn submitting_outside_a_runtime_is_an_error_not_a_panic() {
        let api = WebApi::new("http://127.0.0.1:1/api", TOKEN, Duration::from_secs(1)).unwrap();
        let q = SendQueue::new(Arc::new(api), Duration::ZERO, Duration::ZERO);
        assert!(
            q.submit("C1", "chat.postMessage", Args::Json(json!({})))
                .is_err()
        );
    }
}
