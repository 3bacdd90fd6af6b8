//! The crash harness: warroom as a child process driven through approve → execute,
//! alert → page → escalate and signed Slack deliveries while it is killed with SIGKILL at
//! random moments (inside journal writes, group commits and idle checkpoints among them), then
//! restarted; after every kill it checks what warroom promised.
//!
//! After each kill: `ledger verify` passes on the folder as the kill left it; after each
//! restart, every reply the client was given as acknowledged is in the ledger. At the end: no
//! request started twice, none left executing (each ends terminal or "outcome unknown —
//! verify"), no escalation step recorded twice, every page a receiver got was owed, and no
//! Slack delivery (its retry included) acted on twice. Violations are collected, not
//! stopped at, and reported with their counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use ed25519_dalek::SigningKey;

use crate::api::{Api, plan_with};
use crate::fake_discord::{FakeDiscord, note_interaction, post_signed};
use crate::fake_slack::{FakeSlack, form_encode};
use crate::pager_standin::PagerStandIn;
use crate::{Scratch, Server};

const AM_TOKEN: &str = "crash-harness-alertmanager";
const SLACK_SECRET: &str = "crash-harness-slack-signing-secret";
/// alice's Discord account in the example plan.
const ALICE_DISCORD: &str = "80351110224678912";
/// Discord interaction ids of the flows start here (snowflakes).
const DISCORD_IDS: u64 = 4_000_000_000_000_000_000;

/// What the harness did and found.
#[derive(Debug, Default)]
pub struct Report {
    pub flows: usize,
    pub kills: usize,
    pub acknowledged: usize,
    pub verified: usize,
    pub requests: usize,
    pub executed: usize,
    pub outcome_unknown: usize,
    pub pages: usize,
    pub slack_retries: usize,
    pub discord_redeliveries: usize,
    /// Notes acknowledged to the chat platforms (Slack, Discord).
    pub chat_acknowledged: (usize, usize),
    pub violations: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} flows, {} kills, {} acknowledged replies checked, {} ledger verifications, {} requests ({} executed, {} outcome unknown), {} escalation steps, {} Slack retries, {} Discord redeliveries ({} and {} acknowledged); {} violations",
            self.flows,
            self.kills,
            self.acknowledged,
            self.verified,
            self.requests,
            self.executed,
            self.outcome_unknown,
            self.pages,
            self.slack_retries,
            self.discord_redeliveries,
            self.chat_acknowledged.0,
            self.chat_acknowledged.1,
            self.violations.len()
        )
    }
}

/// A small deterministic generator (xorshift), so a failing seed can be run again.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Something the client was told was recorded, to find after the restart.
#[derive(Debug, Clone)]
enum Acked {
    /// A note, by its marker text.
    Note { incident: String, marker: String },
    /// A request opened, or approved.
    Request {
        incident: String,
        request: String,
        approved: bool,
    },
    /// An alert that opened or joined an incident.
    Alert { incident: String },
}

struct World {
    s: Scratch,
    slack: FakeSlack,
    discord: FakeDiscord,
    key: SigningKey,
    pd: PagerStandIn,
    plan: std::path::PathBuf,
}

impl World {
    fn start() -> World {
        let s = Scratch::new();
        let slack = FakeSlack::start();
        let discord = FakeDiscord::start();
        let key = SigningKey::from_bytes(&[11u8; 32]);
        let pd = PagerStandIn::start();
        let mut changes: Vec<(&str, String)> = vec![
            ("drill = false", "drill = true".into()),
            ("notify = false", "notify = true".into()),
            (crate::api::UNLIMITED.0, crate::api::UNLIMITED.1.into()),
            (
                "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
                "[[alerts.rules]]\nname = \"payments-api-down\"\nsource = \"alertmanager\"\nmatch = { alertname = \"PaymentsApiDown\" }\nseverity = \"sev2\"\npage = \"primary-oncall\"\n\n[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"".into(),
            ),
        ];
        changes.extend(slack.plan_changes());
        changes.extend(discord.plan_changes(&key));
        // PagerDuty and the webhook at the stand-in; no e-mail.
        changes.extend(
            crate::pager_standin::paging_changes(&pd.root, 0)
                .into_iter()
                .filter(|(from, _)| from.contains("routing_key") || from.contains("url =")),
        );
        changes.push((
            "[paging.email]\nsmtp_host = \"smtp.northwind.example\"\nsmtp_port = 587\nfrom = \"warroom@northwind.example\"\nusername = \"warroom\"\npassword = { file = \"/run/secrets/smtp-password\" }\n",
            String::new(),
        ));
        let refs: Vec<(&str, &str)> = changes.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let plan = plan_with(&refs)
            .replacen("repeat = 2", "repeat = 0", 1)
            .replace("escalate_after = \"5m\"", "escalate_after = \"2s\"")
            .replace("escalate_after = \"10m\"", "escalate_after = \"2s\"");
        let plan = s.write("plan.toml", &plan);
        World {
            s,
            slack,
            discord,
            key,
            pd,
            plan,
        }
    }

    /// `ledger verify` on the folder (warroom stopped); a failure is a violation.
    fn verify(&self, more: &[&str], when: &str, report: &mut Report) {
        let mut args = vec!["--config", self.plan.to_str().unwrap(), "ledger", "verify"];
        args.extend_from_slice(more);
        let verify = self.s.run(&args);
        report.verified += 1;
        if verify.code() != 0 {
            report.violations.push(format!(
                "{when}: ledger verify exited {}: {}",
                verify.code(),
                verify.stdout()
            ));
        }
    }

    fn serve(&self) -> Server {
        Server::start_with_env(
            &self.s,
            &["--config", self.plan.to_str().unwrap()],
            &[
                ("SLACK_BOT_TOKEN", "xoxb-crash-harness"),
                ("DISCORD_BOT_TOKEN", "crash-harness-discord"),
                ("SLACK_SIGNING_SECRET", SLACK_SECRET),
                ("WARROOM_SLACK_SEND_INTERVAL_MS", "10"),
                ("PAGERDUTY_ROUTING_KEY", "crash-harness-pagerduty-key0000"),
                ("WARROOM_ALERTMANAGER_TOKEN", AM_TOKEN),
            ],
        )
    }
}

fn alert_body(pod: &str) -> String {
    json!({
        "version": "4", "status": "firing", "receiver": "warroom",
        "groupKey": format!("{{}}:{{pod=\"{pod}\"}}"),
        "alerts": [{ "status": "firing",
            "labels": { "alertname": "PaymentsApiDown", "namespace": "payments", "pod": pod },
            "annotations": { "summary": format!("payments api down on {pod}") },
            "startsAt": "2026-12-01T01:58:00Z" }],
    })
    .to_string()
}

/// A signed Slack slash command as Slack sends it (and resends it, with `retry`).
fn slack_post(addr: &str, body: &str, retry: Option<u32>) -> Option<(u16, String)> {
    let ts = crate::unix_now().to_string();
    let sig = crate::hmac_sha256_hex(SLACK_SECRET, format!("v0:{ts}:{body}").as_bytes());
    let mut req = crate::agent()
        .post(&format!("http://{addr}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", &format!("v0={sig}"));
    if let Some(n) = retry {
        req = req
            .header("x-slack-retry-num", &n.to_string())
            .header("x-slack-retry-reason", "http_timeout");
    }
    let mut r = req.send(body).ok()?;
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Some((r.status().as_u16(), text))
}

/// carol's `/note MARKER` in the incident's Slack channel.
fn slash(channel: &str, marker: &str, trigger: &str) -> String {
    format!(
        "token=x&team_id=T1&team_domain=northwind&channel_id={channel}&channel_name=x&user_id=U024BE7LK&user_name=carol&command=%2Fnote&text={}&response_url={}&trigger_id={trigger}",
        form_encode(marker),
        form_encode("https://hooks.slack.com/commands/T1/1/x")
    )
}

/// One flow's requests, sent from a thread while the main thread picks a moment to kill.
/// `POST /api/v1/command` that gives up quietly when warroom is killed under it.
fn command(addr: &str, person: &str, text: &str, incident: &str) -> Option<(u16, Value)> {
    let mut r = crate::agent()
        .post(&format!("http://{addr}/api/v1/command"))
        .header("content-type", "application/json")
        .send(json!({"person": person, "incident": incident, "text": text}).to_string())
        .ok()?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().ok()?;
    Some((status, serde_json::from_str(&body).ok()?))
}

/// Where a flow acts: the incident, its Slack and Discord channels, and Discord's key.
struct Target {
    incident: String,
    slack: String,
    discord: String,
    key: SigningKey,
}

fn flow(addr: &str, kind: u64, n: usize, t: &Target, acked: &Mutex<Vec<Acked>>) {
    let (incident, channel) = (t.incident.as_str(), t.slack.as_str());
    let push = |a: Acked| acked.lock().unwrap_or_else(|p| p.into_inner()).push(a);
    match kind {
        0 => {
            let Some((200, r)) = command(
                addr,
                "alice",
                &format!("label pod payments/api-7f9c crash=f{n} --reason harness"),
                incident,
            ) else {
                return;
            };
            let Some(request) = r["request_id"].as_str() else {
                return;
            };
            push(Acked::Request {
                incident: incident.to_owned(),
                request: request.to_owned(),
                approved: false,
            });
            if let Some((200, r)) = command(addr, "bob", &format!("approve {request}"), incident)
                && r["ok"] == true
            {
                push(Acked::Request {
                    incident: incident.to_owned(),
                    request: request.to_owned(),
                    approved: true,
                });
            }
        }
        1 => {
            let sent = crate::agent()
                .post(&format!("http://{addr}/alerts/alertmanager"))
                .header("content-type", "application/json")
                .header("authorization", &format!("Bearer {AM_TOKEN}"))
                .send(alert_body(&format!("api-crash-{n}")));
            if let Ok(mut r) = sent
                && r.status().as_u16() == 200
                && let Ok(v) = serde_json::from_str::<Value>(
                    &r.body_mut().read_to_string().unwrap_or_default(),
                )
                && let Some(i) = v["alerts"][0]["incident"].as_str()
            {
                push(Acked::Alert {
                    incident: i.to_owned(),
                });
            }
        }
        3 => {
            let marker = format!("crash-note-{n}");
            let body = note_interaction(&t.discord, ALICE_DISCORD, &marker, DISCORD_IDS + n as u64);
            if let Some((200, text)) = post_signed(addr, &t.key, &body)
                && text.contains("recorded")
            {
                push(Acked::Note {
                    incident: incident.to_owned(),
                    marker,
                });
            }
        }
        _ => {
            let marker = format!("crash-note-{n}");
            let body = slash(channel, &marker, &format!("trigger-{n}"));
            if let Some((200, text)) = slack_post(addr, &body, None)
                && text.contains("recorded")
            {
                push(Acked::Note {
                    incident: incident.to_owned(),
                    marker,
                });
            }
        }
    }
}

fn timeline(api: &Api, incident: &str) -> Vec<Value> {
    api.incident(incident)["timeline"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Run `flows` flows with seed `seed`; `progress` is told each kill.
pub fn run(flows: usize, seed: u64, progress: &mut dyn FnMut(&Report)) -> Report {
    let w = World::start();
    let mut rng = Rng(seed.max(1));
    let mut report = Report::default();
    let mut server = w.serve();
    let api = Api::new(&server.addr);
    w.slack.unique_channels();
    let incident = api.open_incident("crash harness");
    // Its Slack channel, as the ledger recorded it.
    let channel_on = |platform: &str| {
        crate::wait_for(&format!("the incident's {platform} channel"), 30, || {
            timeline(&api, &incident)
                .iter()
                .find(|e| e["kind"] == "chat.channel" && e["data"]["platform"] == platform)
                .and_then(|e| e["data"]["channel"].as_str().map(str::to_owned))
        })
    };
    let target = Arc::new(Target {
        incident: incident.clone(),
        slack: channel_on("slack"),
        discord: channel_on("discord"),
        key: w.key.clone(),
    });
    let channel = target.slack.clone();
    let mut acked_all: Vec<Acked> = Vec::new();
    // Each chat delivery's marker: a note that must be there at most once.
    let mut chat_sent: Vec<String> = Vec::new();
    for n in 0..flows {
        // The first four flows are one of each kind, killed after their replies (and up to
        // 1.5 s later), so every run pages, approves and delivers whatever the seed; the
        // rest are the seed's.
        let drawn = rng.below(4);
        let kind = if n < 4 { n as u64 } else { drawn };
        let acked = Arc::new(Mutex::new(Vec::new()));
        let addr = server.addr.clone();
        let mut worker = Some({
            let (acked, target) = (acked.clone(), target.clone());
            std::thread::spawn(move || flow(&addr, kind, n, &target, &acked))
        });
        if n < 4 {
            // One of each kind answered in full before its kill.
            let _ = worker.take().map(std::thread::JoinHandle::join);
        }
        if kind >= 2 {
            chat_sent.push(format!("crash-note-{n}"));
        }
        // The moment: while the flow's writes are in flight, just after, or during the idle
        // checkpoint a second later.
        let wait = match rng.below(4) {
            0 => rng.below(5),
            1 => rng.below(40),
            2 => rng.below(300),
            _ => 900 + rng.below(600),
        };
        let wait = if n < 4 { 900 + wait % 600 } else { wait };
        std::thread::sleep(Duration::from_millis(wait));
        unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
        let _ = server.child.wait();
        let _ = worker.map(std::thread::JoinHandle::join);
        report.kills += 1;
        report.flows += 1;
        let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(|p| p.into_inner()));
        // The folder as the kill left it verifies.
        w.verify(
            &["--skip-evidence"],
            &format!("flow {n}: after the kill"),
            &mut report,
        );
        server = w.serve();
        let api = Api::new(&server.addr);
        for a in &acked {
            report.acknowledged += 1;
            if let Some(v) = missing(&api, a) {
                report.violations.push(format!("flow {n}: {v}"));
            }
        }
        // Slack retries the delivery it may not have seen answered, and a Discord
        // interaction arrives again: acted on once at most.
        let marker = format!("crash-note-{n}");
        match kind {
            2 => {
                let body = slash(&channel, &marker, &format!("trigger-{n}"));
                let _ = slack_post(&server.addr, &body, Some(1));
                report.slack_retries += 1;
            }
            3 => {
                let body = note_interaction(
                    &target.discord,
                    ALICE_DISCORD,
                    &marker,
                    DISCORD_IDS + n as u64,
                );
                let _ = post_signed(&server.addr, &target.key, &body);
                report.discord_redeliveries += 1;
            }
            _ => {}
        }
        if let Some(Acked::Note { .. }) = acked.first() {
            match kind {
                2 => report.chat_acknowledged.0 += 1,
                _ => report.chat_acknowledged.1 += 1,
            }
        }
        acked_all.extend(acked);
        progress(&report);
    }
    // Let escalations run out and every delivery settle.
    std::thread::sleep(Duration::from_secs(6));
    let api = Api::new(&server.addr);
    finish(&api, &w, &incident, &acked_all, &chat_sent, &mut report);
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let _ = server.child.wait();
    w.verify(&[], "at the end", &mut report);
    drop(w.slack);
    drop(w.discord);
    report
}

/// Why an acknowledged reply is not in the ledger, if it is not.
fn missing(api: &Api, a: &Acked) -> Option<String> {
    match a {
        Acked::Note { incident, marker } => {
            let found = timeline(api, incident)
                .iter()
                .filter(|e| {
                    e["kind"] == "note" && e["data"]["text"].as_str() == Some(marker.as_str())
                })
                .count();
            (found != 1).then(|| format!("acknowledged note {marker} is there {found} times"))
        }
        Acked::Request {
            incident,
            request,
            approved,
        } => {
            let r = api.request(incident, request);
            if r.is_null() {
                return Some(format!(
                    "acknowledged request {incident}/{request} is missing"
                ));
            }
            let approvals = r["approvals"].as_array().map_or(0, Vec::len);
            (*approved
                && approvals == 0
                && r["status"] != "executed"
                && r["status"] != "executing"
                && r["status"] != "outcome_unknown"
                && r["status"] != "failed")
                .then(|| format!("acknowledged approval of {incident}/{request} is missing: {r}"))
        }
        Acked::Alert { incident } => {
            let (code, _) = api.get(&format!("/api/v1/incidents/{incident}"));
            (code != 200)
                .then(|| format!("the incident {incident} an acknowledged alert opened is missing"))
        }
    }
}

/// The invariants over everything, once it settled.
fn finish(
    api: &Api,
    w: &World,
    incident: &str,
    acked: &[Acked],
    chat_sent: &[String],
    report: &mut Report,
) {
    // Every incident the ledger holds: an alert recorded whose answer the kill cut is one too.
    let mut incidents: BTreeSet<String> = api.get("/api/v1/incidents").1["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    incidents.insert(incident.to_owned());
    for a in acked {
        if let Acked::Alert { incident } = a
            && !incidents.contains(incident)
        {
            report.violations.push(format!(
                "{incident}, opened by an acknowledged alert, is missing"
            ));
        }
    }
    let mut owed_keys = BTreeSet::new();
    for inc in &incidents {
        let entries = timeline(api, inc);
        // No request started twice; none left executing.
        let mut executing: BTreeMap<String, usize> = BTreeMap::new();
        for e in entries.iter().filter(|e| e["kind"] == "request.executing") {
            *executing
                .entry(e["data"]["request"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        for (r, n) in &executing {
            if *n > 1 {
                report
                    .violations
                    .push(format!("{inc}/{r} started {n} times"));
            }
        }
        if let Some(requests) = api.incident(inc)["incident"]["requests"].as_array() {
            for r in requests {
                report.requests += 1;
                match r["status"].as_str().unwrap_or_default() {
                    "executed" => report.executed += 1,
                    "outcome_unknown" => report.outcome_unknown += 1,
                    "executing" => report.violations.push(format!(
                        "{inc}/{} is still executing after the restart settled",
                        r["id"].as_str().unwrap_or_default()
                    )),
                    _ => {}
                }
            }
        }
        // Each escalation step once, and none lost: an alert's incident pages tier 1 and
        // tier 2 (primary-oncall, once through) before its escalation runs out.
        let paged_by_alert = inc != incident;
        let mut steps = BTreeSet::new();
        for e in entries.iter().filter(|e| e["kind"] == "page.sent") {
            if e["data"]["step"].is_null() {
                continue;
            }
            report.pages += 1;
            if !steps.insert(e["data"]["step"].to_string()) {
                report
                    .violations
                    .push(format!("{inc}: step {} paged twice", e["data"]["step"]));
            }
        }
        if paged_by_alert && steps.len() != 2 {
            report.violations.push(format!(
                "{inc}: {} escalation steps paged, 2 were due",
                steps.len()
            ));
        }
        for e in entries.iter().filter(|e| e["kind"] == "page.delivered") {
            if let Some(k) = e["data"]["receipt"]
                .as_str()
                .and_then(|r| r.split_whitespace().nth(1))
            {
                owed_keys.insert(k.to_owned());
            }
        }
    }
    // Every page a receiver got was owed by a recorded step (a repeat under the same key is
    // the receiver's to fold).
    for r in w.pd.received("/v2/enqueue") {
        if r.body["event_action"] != "trigger" {
            continue;
        }
        let key = r.body["dedup_key"].as_str().unwrap_or_default();
        if !owed_keys.contains(key) {
            report
                .violations
                .push(format!("PagerDuty got {key}, which no recorded step owed"));
        }
    }
    // A chat delivery and its repeat: one note at most.
    let notes = timeline(api, incident);
    for marker in chat_sent {
        let n = notes
            .iter()
            .filter(|e| e["kind"] == "note" && e["data"]["text"].as_str() == Some(marker.as_str()))
            .count();
        if n > 1 {
            report
                .violations
                .push(format!("chat delivery {marker} acted on {n} times"));
        }
    }
}
