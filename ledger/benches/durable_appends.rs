//! Durable appends per second, side by side in one run on one folder:
//! the ledger (one writer waiting, one awaiting, 16 writers), a raw `write`+`fdatasync`
//! append loop, a preallocated `pwrite`+`fdatasync` loop (the disk's limit for one durable
//! write at a time), the same loop with 16 writers and group commit (what the disk and the
//! cores allow 16 writers) and SQLite (WAL, synchronous=FULL, one commit per entry). Every
//! entry is 300 bytes of payload and is durable before the next one from the same writer is
//! issued.
//!
//! Run: `cargo bench -p warroom-ledger --bench durable_appends [-- --entries N --rounds R
//! --dir DIR]` (`--json FILE` also writes the figures as JSON, for the benchmark report).
//!
//! Every run is made in each of `R` rounds (3 by default), one after the other on the same
//! disk; each ratio a goal is judged by is taken within a round, and the median over the
//! rounds is what is judged, with the rounds' range beside it. The table shows, for each run,
//! the round with its median rate.
//!
//! For the ledger runs it prints where the time went — the share spent in the journal's
//! `fdatasync`, and how many writes each group commit carried — since that distribution is
//! what bounds group commit.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warroom_commands::{Actor, Event, IncidentId, Severity, SystemClock};
use warroom_ledger::Ledger;

const PAYLOAD: usize = 300;
const WRITERS: usize = 16;

struct Run {
    name: &'static str,
    entries: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// CPU time the whole process spent in the run (every thread, user and system).
    cpu: Duration,
    /// For the ledger: its commit statistics after the run.
    commits: Option<Commits>,
}

/// What the ledger's own statistics said about a run.
struct Commits {
    batches: u64,
    fsync_seconds: f64,
    commit_seconds: f64,
    /// (upper bound of writes per batch, batches).
    sizes: Vec<(f64, u64)>,
}

impl Commits {
    fn of(ledger: &Ledger) -> Commits {
        let s = ledger.stats();
        Commits {
            batches: s.batch.count(),
            fsync_seconds: s.fsync.sum(),
            commit_seconds: s.commit.sum(),
            sizes: s.batch.buckets(),
        }
    }

    fn print(&self, run: &Run) {
        let elapsed = run.elapsed.as_secs_f64();
        println!(
            "  {}: {} group commits, {:.1} writes each on average; of the run's {:.2} s, {:.0} % in the journal's write+fdatasync, {:.0} % in the rest of the commits (sled), {:.0} % outside the committer",
            run.name,
            self.batches,
            run.entries as f64 / self.batches.max(1) as f64,
            elapsed,
            100.0 * self.fsync_seconds / elapsed,
            100.0 * (self.commit_seconds - self.fsync_seconds) / elapsed,
            100.0 * (elapsed - self.commit_seconds).max(0.0) / elapsed,
        );
        let sizes: Vec<String> = self
            .sizes
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(le, n)| format!("≤{le}: {n}"))
            .collect();
        println!("    writes per commit: {}", sizes.join(", "));
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "batches": self.batches,
            "fsync_seconds": self.fsync_seconds,
            "commit_seconds": self.commit_seconds,
            "writes_per_batch": self.sizes.iter().filter(|(_, n)| *n > 0)
                .map(|(le, n)| serde_json::json!({"le": if le.is_finite() { serde_json::json!(le) } else { serde_json::json!("+Inf") }, "batches": n}))
                .collect::<Vec<_>>(),
        })
    }
}

impl Run {
    /// Microseconds of CPU (all threads) per write: with two cores, the rate can be no more
    /// than 2,000,000 over this.
    fn cpu_per_write(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.entries as f64
    }
    fn rate(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(((l.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    }
}

fn main() {
    let mut entries = 3000usize;
    let mut dir: Option<PathBuf> = None;
    let mut json: Option<PathBuf> = None;
    let mut round_count = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--entries" => {
                entries = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--entries N")
            }
            "--dir" => dir = args.next().map(PathBuf::from),
            "--rounds" => {
                round_count = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--rounds N (1 or more)")
            }
            "--json" => json = args.next().map(PathBuf::from),
            _ => {} // cargo bench passes --bench
        }
    }
    // On the real disk, never tmpfs: target/tmp is next to the build.
    let base = dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&base).expect("bench folder");
    let tmp = tempfile::tempdir_in(&base).expect("temp folder");
    let root = tmp.path();
    println!(
        "durable appends, {PAYLOAD}-byte entries, {entries} per single-writer run, {round_count} rounds, folder {}",
        root.display()
    );

    // Rounds, each with every run in turn on the same disk: the disk's speed drifts by a
    // third within minutes on a shared machine, so one pass is a coin toss for any ratio near
    // its goal. Each ratio is taken within a round (side by side) and the median is judged.
    let mut rounds: Vec<Vec<Run>> = Vec::with_capacity(round_count);
    for n in 1..=round_count {
        let dir = root.join(format!("round-{n}"));
        std::fs::create_dir_all(&dir).expect("round folder");
        rounds.push(vec![
            raw_append(&dir, entries),
            preallocated(&dir, entries),
            sqlite(&dir, entries),
            ledger_one(&dir, entries),
            ledger_awaiting(&dir, entries),
            ledger_many(&dir, entries * 4),
            preallocated_group(&dir, entries * 4),
        ]);
        // Each round starts from an empty folder, as the first did.
        let _ = std::fs::remove_dir_all(&dir);
        let r = &rounds[n - 1];
        let ratios = Ratios::of(r);
        println!(
            "round {n}: {} → 1 writer/SQLite {:.2}, 1 writer/disk {:.2}, 16/1 writers {:.2}",
            r.iter()
                .map(|x| format!("{:.0}/s", x.rate()))
                .collect::<Vec<_>>()
                .join(", "),
            ratios.one_vs_sqlite,
            ratios.one_vs_prealloc,
            ratios.many_vs_one
        );
    }
    // Per kind of run, the round with the median rate stands for it in the table.
    let runs: Vec<&Run> = (0..rounds[0].len())
        .map(|k| {
            let mut of_kind: Vec<&Run> = rounds.iter().map(|r| &r[k]).collect();
            of_kind.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            of_kind[(of_kind.len() - 1) / 2]
        })
        .collect();
    let per_round: Vec<Ratios> = rounds.iter().map(|r| Ratios::of(r)).collect();
    let ratios = Ratios::median(&per_round);
    println!(
        "\n{:<44} {:>8} {:>10} {:>10} {:>10} {:>12}   (the median of {round_count} rounds)",
        "run", "entries", "per sec", "p50 µs", "p99 µs", "CPU µs/write"
    );
    for r in &runs {
        println!(
            "{:<44} {:>8} {:>10.0} {:>10} {:>10} {:>12.1}",
            r.name,
            r.entries,
            r.rate(),
            r.pct(0.50).as_micros(),
            r.pct(0.99).as_micros(),
            r.cpu_per_write()
        );
    }
    println!();
    let range = |f: fn(&Ratios) -> f64| {
        let (lo, hi) = per_round
            .iter()
            .map(f)
            .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
        format!("rounds {lo:.2}–{hi:.2}")
    };
    goal(
        "ledger 1 writer ≥ SQLite",
        ratios.one_vs_sqlite,
        1.0,
        &range(|r| r.one_vs_sqlite),
    );
    goal(
        "ledger 1 writer ≥ 0.8 × preallocated pwrite+fdatasync",
        ratios.one_vs_prealloc,
        0.8,
        &range(|r| r.one_vs_prealloc),
    );
    goal(
        "ledger 16 writers ≥ 5 × ledger 1 writer",
        ratios.many_vs_one,
        5.0,
        &range(|r| r.many_vs_one),
    );
    println!("(reference: raw append loop {:.0}/s)", runs[0].rate());
    println!(
        "(what the disk and cores allow 16 writers: the preallocated loop with group commit is {:.2}× the preallocated loop; the ledger's 16 writers are {:.2}× of it)",
        ratios.group_vs_prealloc, ratios.many_vs_group
    );
    println!(
        "(one writer waiting, so committing on its own thread, against one awaiting, so through the committer thread: {:.2}×)",
        ratios.waiting_vs_awaiting
    );
    println!("\nwhere the ledger's time went (the median round's run):");
    for r in &runs {
        if let Some(c) = &r.commits {
            c.print(r);
        }
    }
    if let Some(path) = json {
        let value = serde_json::json!({
            "entry_bytes": PAYLOAD,
            "rounds": round_count,
            "runs": runs.iter().map(|r| serde_json::json!({
                "name": r.name,
                "entries": r.entries,
                "per_second": r.rate(),
                "p50_us": r.pct(0.50).as_micros() as u64,
                "p99_us": r.pct(0.99).as_micros() as u64,
                "cpu_us_per_write": r.cpu_per_write(),
                "commits": r.commits.as_ref().map(Commits::json),
            })).collect::<Vec<_>>(),
            "ratios": ratios.json(),
            "round_ratios": per_round.iter().map(Ratios::json).collect::<Vec<_>>(),
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The ratios the goals are judged by, from runs made side by side (one round).
struct Ratios {
    one_vs_sqlite: f64,
    one_vs_prealloc: f64,
    many_vs_one: f64,
    waiting_vs_awaiting: f64,
    group_vs_prealloc: f64,
    many_vs_group: f64,
}

impl Ratios {
    /// From one round's runs, in the order they are made.
    fn of(r: &[Run]) -> Ratios {
        let (prealloc, sqlite, one, awaiting, many, group) = (
            r[1].rate(),
            r[2].rate(),
            r[3].rate(),
            r[4].rate(),
            r[5].rate(),
            r[6].rate(),
        );
        Ratios {
            one_vs_sqlite: one / sqlite,
            one_vs_prealloc: one / prealloc,
            many_vs_one: many / one,
            waiting_vs_awaiting: one / awaiting,
            group_vs_prealloc: group / prealloc,
            many_vs_group: many / group,
        }
    }

    /// Each ratio's median over the rounds.
    fn median(rounds: &[Ratios]) -> Ratios {
        let m = |f: fn(&Ratios) -> f64| median(rounds.iter().map(f).collect());
        Ratios {
            one_vs_sqlite: m(|r| r.one_vs_sqlite),
            one_vs_prealloc: m(|r| r.one_vs_prealloc),
            many_vs_one: m(|r| r.many_vs_one),
            waiting_vs_awaiting: m(|r| r.waiting_vs_awaiting),
            group_vs_prealloc: m(|r| r.group_vs_prealloc),
            many_vs_group: m(|r| r.many_vs_group),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "one_writer_vs_sqlite": self.one_vs_sqlite,
            "one_writer_vs_preallocated": self.one_vs_prealloc,
            "sixteen_vs_one_writer": self.many_vs_one,
            "waiting_vs_awaiting_writer": self.waiting_vs_awaiting,
            "preallocated_sixteen_vs_one_writer": self.group_vs_prealloc,
            "sixteen_writers_vs_preallocated_group": self.many_vs_group,
        })
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// CPU time this process has used so far, all threads.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF always exists.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn goal(name: &str, ratio: f64, need: f64, range: &str) {
    let verdict = if ratio >= need { "met" } else { "MISSED" };
    println!("{name:<56} ratio {ratio:>6.2} (need {need:.1}) {verdict}  ({range})");
}

fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("entry {i:>10} ").into_bytes();
    p.resize(PAYLOAD - 1, b'x');
    p.push(b'\n');
    p
}

fn timed(name: &'static str, entries: usize, mut each: impl FnMut(usize)) -> Run {
    let mut latencies = Vec::with_capacity(entries);
    let (start, cpu) = (Instant::now(), cpu_time());
    for i in 0..entries {
        let t = Instant::now();
        each(i);
        latencies.push(t.elapsed());
    }
    Run {
        name,
        entries,
        elapsed: start.elapsed(),
        latencies,
        cpu: cpu_time() - cpu,
        commits: None,
    }
}

fn raw_append(root: &Path, entries: usize) -> Run {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("append.log"))
        .unwrap();
    timed("raw append write+fdatasync", entries, |i| {
        f.write_all(&payload(i)).unwrap();
        f.sync_data().unwrap();
    })
}

/// A file of `entries` records' room, its zeros written and synced.
fn preallocated_file(root: &Path, name: &str, entries: usize) -> std::fs::File {
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(root.join(name))
        .unwrap();
    // Written zeros, not fallocate: writes into unwritten extents still change metadata.
    f.write_all_at(&vec![0u8; entries * PAYLOAD], 0).unwrap();
    f.sync_all().unwrap();
    f
}

fn preallocated(root: &Path, entries: usize) -> Run {
    let f = preallocated_file(root, "prealloc.log", entries);
    timed("preallocated pwrite+fdatasync (disk limit)", entries, |i| {
        f.write_all_at(&payload(i), (i * PAYLOAD) as u64).unwrap();
        f.sync_data().unwrap();
    })
}

/// What the disk and the cores allow 16 writers: the preallocated loop with textbook group
/// commit (the first writer to find no sync under way writes and syncs everything queued;
/// the rest wait for it). Each writer's record is durable before it issues its next.
fn preallocated_group(root: &Path, entries: usize) -> Run {
    use std::sync::{Condvar, Mutex};
    #[derive(Default)]
    struct Shared {
        queued: Vec<u8>,
        /// Records queued so far, and how many of them are durable.
        issued: usize,
        synced: usize,
        syncing: bool,
    }
    let f = preallocated_file(root, "prealloc-group.log", entries);
    let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new(), f));
    let writers = (0..WRITERS)
        .map(|_| {
            let shared = shared.clone();
            move |i: usize| {
                let (lock, synced, file) = &*shared;
                let mut s = lock.lock().unwrap();
                s.queued.extend_from_slice(&payload(i));
                s.issued += 1;
                let mine = s.issued;
                while s.synced < mine {
                    if s.syncing {
                        s = synced.wait(s).unwrap();
                        continue;
                    }
                    s.syncing = true;
                    let (batch, upto) = (std::mem::take(&mut s.queued), s.issued);
                    let at = ((upto - batch.len() / PAYLOAD) * PAYLOAD) as u64;
                    drop(s);
                    file.write_all_at(&batch, at).unwrap();
                    file.sync_data().unwrap();
                    s = lock.lock().unwrap();
                    s.synced = upto;
                    s.syncing = false;
                    synced.notify_all();
                }
            }
        })
        .collect();
    concurrent(
        "preallocated, 16 writers (group commit)",
        entries / WRITERS,
        writers,
    )
}

/// Each writer on its own thread, `per` writes each, every write timed.
fn concurrent<W: FnMut(usize) + Send + 'static>(
    name: &'static str,
    per: usize,
    writers: Vec<W>,
) -> Run {
    let (start, cpu) = (Instant::now(), cpu_time());
    let count = writers.len();
    let handles: Vec<_> = writers
        .into_iter()
        .map(|mut write| {
            std::thread::spawn(move || {
                (0..per)
                    .map(|i| {
                        let t = Instant::now();
                        write(i);
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let latencies = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    Run {
        name,
        entries: per * count,
        elapsed: start.elapsed(),
        latencies,
        cpu: cpu_time() - cpu,
        commits: None,
    }
}

fn sqlite(root: &Path, entries: usize) -> Run {
    let db = rusqlite::Connection::open(root.join("bench.sqlite")).unwrap();
    db.pragma_update(None, "journal_mode", "WAL").unwrap();
    db.pragma_update(None, "synchronous", "FULL").unwrap();
    db.execute(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
        [],
    )
    .unwrap();
    let mut stmt = db
        .prepare("INSERT INTO entries (body) VALUES (?1)")
        .unwrap();
    timed("SQLite WAL synchronous=FULL, commit each", entries, |i| {
        stmt.execute([payload(i)]).unwrap();
    })
}

fn note(i: usize) -> Event {
    Event::Note {
        text: String::from_utf8(payload(i)).unwrap(),
    }
}

fn open_ledger(root: &Path, name: &str) -> (Ledger, Actor) {
    let ledger = Ledger::open(&root.join(name), Arc::new(SystemClock)).unwrap();
    (ledger, Actor::Cli("bench".into()))
}

/// A fresh ledger in `root/name` with one incident to write to.
fn ledger_with_incident(root: &Path, name: &str) -> (Ledger, Actor, IncidentId) {
    let (ledger, actor) = open_ledger(root, name);
    let id = ledger
        .open_incident("bench", Severity::Sev3, &actor)
        .wait()
        .unwrap()
        .incident
        .id;
    (ledger, actor, id)
}

fn ledger_one(root: &Path, entries: usize) -> Run {
    let (ledger, actor, id) = ledger_with_incident(root, "ledger-one");
    let mut run = timed("ledger, 1 writer", entries, |i| {
        ledger.append(&id, &actor, note(i)).wait().unwrap();
    });
    run.commits = Some(Commits::of(&ledger));
    run
}

/// One writer that awaits each write, as the server's handlers do: every write goes to the
/// committer thread and its answer comes back, two thread hand-offs a write.
fn ledger_awaiting(root: &Path, entries: usize) -> Run {
    let (ledger, actor, id) = ledger_with_incident(root, "ledger-awaiting");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut run = timed(
        "ledger, one awaiting writer (committer thread)",
        entries,
        |i| {
            runtime
                .block_on(async { ledger.append(&id, &actor, note(i)).await })
                .unwrap();
        },
    );
    run.commits = Some(Commits::of(&ledger));
    run
}

fn ledger_many(root: &Path, entries: usize) -> Run {
    let (ledger, actor) = open_ledger(root, "ledger-many");
    let ledger = Arc::new(ledger);
    let ids: Vec<IncidentId> = (0..WRITERS)
        .map(|_| {
            ledger
                .open_incident("bench", Severity::Sev3, &actor)
                .wait()
                .unwrap()
                .incident
                .id
        })
        .collect();
    let before = Commits::of(&ledger);
    let writers = ids
        .into_iter()
        .map(|id| {
            let (ledger, actor) = (ledger.clone(), actor.clone());
            move |i| {
                ledger.append(&id, &actor, note(i)).wait().unwrap();
            }
        })
        .collect();
    let mut run = concurrent(
        "ledger, 16 concurrent writers (group commit)",
        entries / WRITERS,
        writers,
    );
    // Only the run's own commits: the 16 incidents were opened before it.
    let after = Commits::of(&ledger);
    run.commits = Some(Commits {
        batches: after.batches - before.batches,
        fsync_seconds: after.fsync_seconds - before.fsync_seconds,
        commit_seconds: after.commit_seconds - before.commit_seconds,
        sizes: after
            .sizes
            .iter()
            .zip(&before.sizes)
            .map(|((le, a), (_, b))| (*le, a - b))
            .collect(),
    });
    run
}
