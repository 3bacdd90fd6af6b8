//! The benchmarks' load generator: keep-alive HTTP/1.1 connections that send one request and
//! read one response at a time, with nothing between the measurement and the socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One request as sent.
pub struct Req {
    pub path: String,
    pub content_type: &'static str,
    /// Extra header lines, each ending in CRLF.
    pub headers: String,
    pub body: String,
}

/// One keep-alive connection.
pub struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).ok();
        Conn {
            addr: addr.to_owned(),
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
        }
    }

    /// Send one request, read one response: (status, body).
    pub fn post(&mut self, r: &Req) -> (u16, String) {
        let req = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\n{}Content-Length: {}\r\n\r\n",
            r.path,
            self.addr,
            r.content_type,
            r.headers,
            r.body.len(),
        );
        self.writer.write_all(req.as_bytes()).expect("write");
        self.writer
            .write_all(r.body.as_bytes())
            .expect("write body");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// Peak and current resident memory of a process, in KiB (`VmHWM`, `VmRSS`).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let [peak, now] = status_kib(pid, ["VmHWM:", "VmRSS:"]);
    (peak, now)
}

/// Resident memory of a process split into (anonymous, file-backed) KiB: the heap, stacks
/// and written data against the binary's and libraries' pages mapped from the page cache.
pub fn resident_split_kib(pid: u32) -> (u64, u64) {
    let [anon, file] = status_kib(pid, ["RssAnon:", "RssFile:"]);
    (anon, file)
}

/// Fields of `/proc/<pid>/status` in KiB (0 where one is missing).
fn status_kib<const N: usize>(pid: u32, names: [&str; N]) -> [u64; N] {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    names.map(|name| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    })
}

/// How many names of the release link's start order (`bot/link/startup-order.txt`) the
/// binary `bin` still defines, of how many: a file gone stale (dependencies changed since
/// `scripts/startup-order.py` wrote it) shows here before it shows as resident memory.
/// `None` if `nm` cannot read the binary.
pub fn startup_order_coverage(bin: &std::path::Path) -> Option<(usize, usize)> {
    let order =
        std::fs::read_to_string(crate::repo_root().join("bot/link/startup-order.txt")).ok()?;
    let nm = std::process::Command::new("nm")
        .arg("--defined-only")
        .arg(bin)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let listed = String::from_utf8_lossy(&nm.stdout);
    let defined: std::collections::HashSet<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let names: Vec<&str> = order.lines().filter(|l| !l.trim().is_empty()).collect();
    let found = names.iter().filter(|n| defined.contains(n.trim())).count();
    Some((found, names.len()))
}

/// `--name VALUE` from the benchmark's command line (after `--`), parsed; `None` if absent.
/// A value that does not parse stops the benchmark naming the option.
pub fn arg<T: std::str::FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    let value = args
        .get(at + 1)
        .unwrap_or_else(|| panic!("{name} needs a value"));
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} {value}: not a valid value")),
    )
}

/// Whether `--name` is on the benchmark's command line.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// With `--json FILE` on the command line, write the benchmark's figures there (for the
/// benchmark report); without it, nothing.
pub fn save_results(figures: &serde_json::Value) {
    if let Some(path) = arg::<std::path::PathBuf>("--json") {
        let text = serde_json::to_vec_pretty(figures).expect("figures as JSON");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The `q` quantile (0 to 1) of latencies sorted ascending: the one at ⌊len × q⌋, the largest
/// for 1; zero when there are none.
pub fn quantile(sorted: &[std::time::Duration], q: f64) -> std::time::Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// CPU time the host took from this machine so far (the `steal` column of `/proc/stat`,
/// summed over its CPUs): on a virtual machine, time its CPUs were ready to run and the
/// host ran something else, or throttled the machine for going over its CPU quota.
/// `None` where the kernel does not report it.
pub fn stolen() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: u64 = cpu.split_whitespace().nth(8)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| std::time::Duration::from_millis(ticks * 1000 / hz as u64))
}

/// Milliseconds a second the host took from this machine between `before` (from [`stolen`])
/// and now, over `elapsed`.
pub fn stolen_per_second(
    before: Option<std::time::Duration>,
    elapsed: std::time::Duration,
) -> Option<f64> {
    let taken = stolen()?.checked_sub(before?)?;
    Some(taken.as_secs_f64() * 1000.0 / elapsed.as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod quantile_tests {
    use super::quantile;
    use std::time::Duration;

    #[test]
    fn quantiles_index_the_sorted_latencies() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(51));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(100));
        assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn the_time_the_host_took_is_read_and_never_goes_back() {
        use std::time::Duration;
        let before = super::stolen().expect("/proc/stat has a steal column on Linux");
        // From zero over 2 s: half of all the steal so far (or a little more, read later).
        let rate = super::stolen_per_second(Some(Duration::ZERO), Duration::from_secs(2));
        let half = before.as_secs_f64() * 1000.0 / 2.0;
        assert!(rate.is_some_and(|ms| ms >= half), "{rate:?} < {half}");
        assert!(super::stolen().unwrap() >= before);
        // A start after now, or none, gives nothing rather than a made-up figure.
        let later = before + Duration::from_secs(3600);
        assert_eq!(
            super::stolen_per_second(Some(later), Duration::from_secs(1)),
            None
        );
        assert_eq!(super::stolen_per_second(None, Duration::from_secs(1)), None);
    }
}
