//! Per-request limits of `[console.limits]`: how fast one address may call the intake, the
//! command API and the chat endpoints, and how long a request body may take to arrive.
//!
//! Guarantees: an address over `per_source` requests per second (after a `burst`) is
//! answered `429` with `Retry-After` (whole seconds until it may send again) before its
//! body is read or anything is recorded, so a refused request has no effect and may be
//! repeated as is; a body that has not fully arrived within `body_timeout` is answered `408`
//! and nothing of it is acted on; the bodies being read on those paths hold at most
//! `BODIES_PER_SOURCE` bytes from one address and `BODIES_IN_FLIGHT` in all (by their
//! `Content-Length`), beyond which a request is answered `503` before its body is read.
//! Memory is bounded: at most `MAX_SOURCES` addresses are tracked, and buckets full again are
//! forgotten first. An IPv6 caller is counted by its /64 (`ipv6_prefix`), the block one host
//! or one customer line is given, since one machine can send from any of its 2^64 addresses; an
//! IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`, a dual-stack listener) counts as that
//! IPv4 address. Caveat: the address is the TCP peer — behind a proxy, every caller is the
//! proxy (give the proxy its own limits), and a standby forwarding to the leader counts as
//! one address.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use warroom_adapters::deadline_body::DeadlineBody;
use warroom_config::model::console::Limits;

use super::api::answer;

/// Addresses tracked at once.
const MAX_SOURCES: usize = 100_000;

/// Paths whose callers are limited per address.
fn limited(path: &str) -> bool {
    path.starts_with("/alerts/")
        || path == "/api/v1/command"
        || path.starts_with("/slack/")
        || path.starts_with("/discord/")
}

/// Request bodies held at once on the limited paths, in bytes: each is read whole before its
/// sender can be checked (a signature covers the body), so without a bound, slow bodies from
/// unauthenticated senders could hold the pod's memory (1 MiB each, 4,096 connections).
const BODIES_IN_FLIGHT: u64 = 128 * 1024 * 1024;
/// The same bound for one address, so one sender cannot take the whole budget.
const BODIES_PER_SOURCE: u64 = 16 * 1024 * 1024;
/// What a body without a usable `Content-Length` is counted as: the largest any path takes.
const LARGEST_BODY: u64 = super::alerts::MAX_ALERT_BODY as u64;

pub struct Guard {
    limits: Limits,
    buckets: Mutex<HashMap<Source, Bucket>>,
    in_flight: Mutex<InFlight>,
    pub rate_limited: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub bodies_refused: AtomicU64,
}

/// Body bytes reserved now, in all and per address.
#[derive(Default)]
struct InFlight {
    total: u64,
    by_source: HashMap<Source, u64>,
}

/// Body bytes held for one request until it is answered.
struct Reserved {
    guard: Arc<Guard>,
    source: Source,
    bytes: u64,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut f = self.guard.in_flight();
        f.total = f.total.saturating_sub(self.bytes);
        if let Some(held) = f.by_source.get_mut(&self.source) {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                f.by_source.remove(&self.source);
            }
        }
    }
}

/// Who a limit counts, and as what: an IPv4 address, or the first `ipv6_prefix` bits of an
/// IPv6 one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Source {
    ip: IpAddr,
    bits: u8,
}

impl Source {
    fn of(ip: IpAddr, ipv6_prefix: u8) -> Source {
        match ip {
            IpAddr::V4(_) => Source { ip, bits: 32 },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source {
                    ip: IpAddr::V4(v4),
                    bits: 32,
                },
                None => {
                    let bits = ipv6_prefix.clamp(1, 128);
                    let mask = u128::MAX << (128 - u32::from(bits));
                    Source {
                        ip: IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask)),
                        bits,
                    }
                }
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) if self.bits == 128 => write!(f, "{v6}"),
            IpAddr::V6(v6) => write!(f, "{v6}/{}", self.bits),
        }
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Guard {
    pub fn new(limits: &Limits) -> Arc<Guard> {
        Arc::new(Guard {
            limits: limits.clone(),
            buckets: Mutex::default(),
            in_flight: Mutex::default(),
            rate_limited: AtomicU64::new(0),
            body_timeouts: AtomicU64::new(0),
            bodies_refused: AtomicU64::new(0),
        })
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hold `bytes` of body for `source`, or say which bound it would pass.
    fn reserve(self: &Arc<Self>, source: Source, bytes: u64) -> Result<Reserved, &'static str> {
        let mut f = self.in_flight();
        let mine = f.by_source.get(&source).copied().unwrap_or(0);
        if mine + bytes > BODIES_PER_SOURCE {
            return Err("from this address");
        }
        if f.total + bytes > BODIES_IN_FLIGHT {
            return Err("in all");
        }
        f.total += bytes;
        *f.by_source.entry(source).or_insert(0) += bytes;
        Ok(Reserved {
            guard: self.clone(),
            source,
            bytes,
        })
    }

    /// Take one request from `source`'s bucket: `None` when allowed, else how long until
    /// one more is.
    fn take(&self, source: Source, now: Instant) -> Option<Duration> {
        let rate = f64::from(self.limits.per_source);
        if rate == 0.0 {
            return None;
        }
        let burst = f64::from(self.limits.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_SOURCES && !buckets.contains_key(&source) {
            // Forget the buckets that have refilled: they hold no debt.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
            if buckets.len() >= MAX_SOURCES {
                return Some(Duration::from_secs(1));
            }
        }
        let b = buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        format!(
            "# HELP warroom_http_rate_limited_total Requests answered 429 because their address was over [console.limits] per_source.\n# TYPE warroom_http_rate_limited_total counter\nwarroom_http_rate_limited_total {}\n\
# HELP warroom_http_body_timeouts_total Requests answered 408 because their body did not arrive within [console.limits] body_timeout.\n# TYPE warroom_http_body_timeouts_total counter\nwarroom_http_body_timeouts_total {}\n\
# HELP warroom_http_bodies_refused_total Requests answered 503 because the request bodies being read already held the memory set aside for them.\n# TYPE warroom_http_bodies_refused_total counter\nwarroom_http_bodies_refused_total {}\n",
            self.rate_limited.load(Ordering::Relaxed),
            self.body_timeouts.load(Ordering::Relaxed),
            self.bodies_refused.load(Ordering::Relaxed),
        )
    }
}

pub async fn guard(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let source = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| Source::of(peer.ip(), guard.limits.ipv6_prefix));
    if limited(req.uri().path())
        && let Some(source) = source
        && let Some(wait) = guard.take(source, Instant::now())
    {
        guard.rate_limited.fetch_add(1, Ordering::Relaxed);
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        tracing::warn!(%source, path = %req.uri().path(), "rate limited");
        let mut r = answer(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{source} sends more than {} requests a second ([console.limits] per_source); nothing was done: retry after {secs} s",
                guard.limits.per_source
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    // The body's bytes are set aside before it is read, and held until the answer.
    let _reserved = match source {
        Some(source) if limited(req.uri().path()) => {
            let bytes = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .map_or(LARGEST_BODY, |n| n.min(LARGEST_BODY));
            match guard.reserve(source, bytes) {
                Ok(r) => Some(r),
                Err(bound) => {
                    guard.bodies_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%source, path = %req.uri().path(), bound, "request bodies in flight at their bound");
                    let mut r = answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "too many request bodies are being read {bound} ({} MiB from one address, {} MiB in all); nothing was done: retry after 1 s",
                            BODIES_PER_SOURCE >> 20,
                            BODIES_IN_FLIGHT >> 20
                        ),
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return r;
                }
            }
        }
        _ => None,
    };
    let late = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = Body::new(DeadlineBody::new(
        body,
        tokio::time::sleep(guard.limits.body_timeout),
        {
            let late = late.clone();
            move || {
                late.store(true, Ordering::Release);
                Late.into()
            }
        },
    ));
    let response = next.run(Request::from_parts(parts, body)).await;
    if late.load(Ordering::Acquire) {
        guard.body_timeouts.fetch_add(1, Ordering::Relaxed);
        return answer(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} ([console.limits] body_timeout); nothing was done",
                warroom_config::format_duration(guard.limits.body_timeout)
            ),
        );
    }
    response
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct Late;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_bytes_are_bounded_per_address_and_in_all_and_given_back_when_answered() {
        let g = Guard::new(&Limits::default());
        let (a, b) = (src("192.0.2.1"), src("192.0.2.2"));
        let mib = 1024 * 1024;
        // One address: 16 bodies of 1 MiB, not a 17th.
        let held: Vec<Reserved> = (0..16).map(|_| g.reserve(a, mib).unwrap()).collect();
        assert_eq!(g.reserve(a, mib).err(), Some("from this address"));
        // Others still get in, up to the bound in all.
        let mut others = Vec::new();
        for i in 0..7u8 {
            let ip = src(&format!("198.51.100.{i}"));
            others.extend((0..16).map(|_| g.reserve(ip, mib).unwrap()));
        }
        assert_eq!(g.in_flight().total, 128 * mib);
        assert_eq!(g.reserve(b, 1).err(), Some("in all"));
        // Answered requests give their bytes back, and an address holding none is forgotten.
        drop(held);
        assert!(g.reserve(a, mib).is_ok());
        drop(others);
        assert_eq!(g.in_flight().total, 0);
        assert!(g.in_flight().by_source.is_empty());
    }

    fn src(ip: &str) -> Source {
        Source::of(ip.parse().unwrap(), 64)
    }

    fn limits(per_source: u32, burst: u32) -> Limits {
        Limits {
            per_source,
            burst,
            ..Limits::default()
        }
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate_and_is_told_when_to_come_back() {
        let g = Guard::new(&limits(10, 3));
        let (a, b) = (src("10.0.0.1"), src("10.0.0.2"));
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(g.take(a, t), None);
        }
        let wait = g.take(a, t).expect("over the burst");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        // Another address is not affected.
        assert_eq!(g.take(b, t), None);
        // A tenth of a second later, one more.
        assert_eq!(g.take(a, t + Duration::from_millis(100)), None);
        assert!(g.take(a, t + Duration::from_millis(100)).is_some());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let g = Guard::new(&limits(0, 1));
        let a = src("10.0.0.1");
        let t = Instant::now();
        assert!((0..10_000).all(|_| g.take(a, t).is_none()));
    }

    #[test]
    fn an_ipv6_caller_is_counted_by_its_64_and_a_mapped_ipv4_as_itself() {
        let g = Guard::new(&limits(10, 2));
        let t = Instant::now();
        // One host rotating through its /64 shares one bucket.
        assert_eq!(g.take(src("2001:db8:1:2::1"), t), None);
        assert_eq!(g.take(src("2001:db8:1:2:ffff:ffff:ffff:fffe"), t), None);
        assert!(g.take(src("2001:db8:1:2:abcd::9"), t).is_some());
        // The next /64 is someone else.
        assert_eq!(g.take(src("2001:db8:1:3::1"), t), None);
        // A dual-stack listener's mapped address is the IPv4 caller itself.
        assert_eq!(src("::ffff:192.0.2.7"), src("192.0.2.7"));
        assert_eq!(src("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(src("192.0.2.7").to_string(), "192.0.2.7");
        // Body bytes are held per /64 too.
        let mib = 1024 * 1024;
        let held: Vec<Reserved> = (0..16u16)
            .map(|i| {
                g.reserve(src(&format!("2001:db8:1:2::{i:x}")), mib)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            g.reserve(src("2001:db8:1:2::99"), 1).err(),
            Some("from this address")
        );
        drop(held);
        // Where the senders are pods sharing a /64: each address on its own.
        let each = |ip: &str| Source::of(ip.parse().unwrap(), 128);
        assert_ne!(each("2001:db8:1:2::1"), each("2001:db8:1:2::2"));
        assert_eq!(each("2001:db8:1:2::1").to_string(), "2001:db8:1:2::1");
        let by_80 = Source::of("2001:db8:1:2:3::1".parse().unwrap(), 80);
        assert_eq!(by_80.to_string(), "2001:db8:1:2:3::/80");
    }

    #[test]
    fn only_intake_command_and_chat_endpoints_are_limited() {
        assert!(limited("/alerts/alertmanager"));
        assert!(limited("/api/v1/command"));
        assert!(limited("/slack/commands"));
        assert!(limited("/discord/interactions"));
        assert!(!limited("/api/v1/incidents"));
        assert!(!limited("/readyz"));
        assert!(!limited("/"));
    }
}
