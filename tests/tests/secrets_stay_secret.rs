//! Every secret the plan names is given a known value; then every flow runs — commands with
//! API tokens (and a wrong one), Alertmanager, Falco (token and HMAC) and Events v2 intake,
//! signed Slack commands and Discord interactions (and forged ones), pages to PagerDuty and a
//! webhook, evidence capture, exports, preflight against AWS (moto) — and no secret may appear
//! in what warroom writes or says: its logs at debug level, every HTTP answer, `/metrics`,
//! exports, the CLI's output, chat messages it posted, and every byte of its data folder.

use std::path::Path;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use warroom_adapters::chat::slack::signature::sign;
use warroom_tests::api::{Api, plan_with};
use warroom_tests::fake_discord::{FakeDiscord, incident_open_options, post_signed};
use warroom_tests::fake_slack::{FakeSlack, form_encode};
use warroom_tests::moto::{AWS_ENV, Moto};
use warroom_tests::pager_standin::{PagerStandIn, SmtpSink, paging_changes};
use warroom_tests::{Scratch, Server, wait_for};

/// (environment variable, value): each value is findable wherever it lands.
const SECRETS: &[(&str, &str)] = &[
    ("SLACK_BOT_TOKEN", "xoxb-S3CRETslackbot7431"),
    ("SLACK_SIGNING_SECRET", "S3CRETslacksigning7431abcdef0123"),
    ("DISCORD_BOT_TOKEN", "S3CRETdiscordbot7431"),
    ("WARROOM_ALERTMANAGER_TOKEN", "S3CRETalertmanager7431"),
    ("WARROOM_FALCO_HMAC", "S3CRETfalcohmac7431"),
    ("WARROOM_FALCO_TOKEN", "S3CRETfalcotoken7431"),
    (
        "WARROOM_EVENTS_ROUTING_KEY",
        "S3CRETeventsrouting7431abcdefghi",
    ),
    ("WARROOM_GUARDDUTY_TOKEN", "S3CRETguardduty7431"),
    ("PAGERDUTY_ROUTING_KEY", "S3CRETpagerduty7431abcdefghijklm"),
    ("PAGE_WEBHOOK_TOKEN", "S3CRETwebhook7431"),
    ("WARROOM_TOKEN_ALICE", "S3CRETalice7431-api-token"),
    ("WARROOM_TOKEN_BOB", "S3CRETbob7431-api-token"),
    ("WARROOM_TOKEN_CAROL", "S3CRETcarol7431-api-token"),
    ("WARROOM_AWS_EXTERNAL_ID", "S3CRETexternalid7431"),
];

const AWS_SECRET: &str = "S3CRETawssecretkey7431";

fn secret(name: &str) -> &'static str {
    SECRETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap()
}

/// Everything that must not hold a secret, by where it was found.
#[derive(Default)]
struct Seen(Vec<(String, Vec<u8>)>);

impl Seen {
    fn add(&mut self, what: impl Into<String>, bytes: impl AsRef<[u8]>) {
        self.0.push((what.into(), bytes.as_ref().to_vec()));
    }

    /// Every file below `dir`, byte for byte (journal, sled, evidence).
    fn folder(&mut self, dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                self.folder(&p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                self.add(p.display().to_string(), bytes);
            }
        }
    }

    fn assert_clean(&self) {
        let leaks = self.leaks();
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    }

    fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        let mut all: Vec<&str> = SECRETS.iter().map(|(_, v)| *v).collect();
        all.push(AWS_SECRET);
        for (what, bytes) in &self.0 {
            for s in &all {
                if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                    leaks.push(format!("{s} in {what}"));
                }
            }
        }
        leaks
    }
}

fn post(
    seen: &mut Seen,
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = warroom_tests::agent()
        .post(&format!("http://{addr}{path}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    seen.add(format!("the answer to POST {path} ({status})"), &text);
    (status, text)
}

#[test]
fn no_secret_appears_in_logs_answers_metrics_exports_chat_or_the_data_folder() {
    let s = Scratch::new();
    let moto = Moto::start();
    let slack = FakeSlack::start();
    let discord = FakeDiscord::start();
    let pd = PagerStandIn::start();
    let smtp = SmtpSink::start(s.path(), std::time::Duration::ZERO);
    let key = SigningKey::from_bytes(&[5u8; 32]);
    let webhook_url = format!("url = \"{}/page\"", pd.root);
    let webhook = format!("{webhook_url}\ntoken = {{ env = \"PAGE_WEBHOOK_TOKEN\" }}");
    let mut changes: Vec<(&str, String)> = vec![
        ("drill = false", "drill = true".into()),
        ("notify = false", "notify = true".into()),
        (
            "role_arn = \"arn:aws:iam::123456789012:role/warroom-responder\"",
            format!(
                "role_arn = \"arn:aws:iam::123456789012:role/warroom-responder\"\nendpoint_url = \"{}\"",
                moto.endpoint
            ),
        ),
        (
            "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
            "[[alerts.rules]]\nname = \"payments-api-down\"\nsource = \"alertmanager\"\nmatch = { alertname = \"PaymentsApiDown\" }\nseverity = \"sev2\"\npage = \"primary-oncall\"\n\n[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"".into(),
        ),
    ];
    changes.extend(slack.plan_changes());
    changes.extend(discord.plan_changes(&key));
    for (from, to) in paging_changes(&pd.root, smtp.port) {
        // The webhook keeps a token, from the environment.
        let to = if to == webhook_url {
            webhook.clone()
        } else {
            to
        };
        changes.push((from, to));
    }
    let refs: Vec<(&str, &str)> = changes.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let plan = s.write("plan.toml", &plan_with(&refs));
    let mut env: Vec<(&str, &str)> = SECRETS.to_vec();
    for (k, v) in AWS_ENV {
        env.push((
            k,
            if *k == "AWS_SECRET_ACCESS_KEY" {
                AWS_SECRET
            } else {
                v
            },
        ));
    }
    env.push(("WARROOM_LOG", "debug"));
    env.push(("WARROOM_LOG_FORMAT", "json"));
    env.push(("WARROOM_SLACK_SEND_INTERVAL_MS", "10"));
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], &env);
    let addr = server.addr.clone();
    let (code, ready) = server.wait_for("/readyz", 200, std::time::Duration::from_secs(30));
    assert_eq!(code, 200, "{ready}");
    let mut seen = Seen::default();

    // The command API with each person's token, and a wrong one that starts like a real one.
    let bearer = |name: &str| format!("Bearer {}", secret(name));
    let (code, opened) = post(
        &mut seen,
        &addr,
        "/api/v1/command",
        &[("authorization", &bearer("WARROOM_TOKEN_ALICE"))],
        &json!({"text": "incident open \"shell in payments api\" --severity sev1"}).to_string(),
    );
    assert_eq!(code, 200, "{opened}");
    let inc = serde_json::from_str::<Value>(&opened).unwrap()["incident"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = format!("Bearer {}x", secret("WARROOM_TOKEN_ALICE"));
    let (code, _) = post(
        &mut seen,
        &addr,
        "/api/v1/command",
        &[("authorization", &wrong)],
        &json!({"text": "incident list"}).to_string(),
    );
    assert_eq!(code, 401);
    for (who, text) in [
        ("WARROOM_TOKEN_ALICE", "capture pod payments/api-7f9c"),
        (
            "WARROOM_TOKEN_ALICE",
            "quarantine pod payments/api-7f9c --reason shell",
        ),
        ("WARROOM_TOKEN_BOB", "approve R2"),
        ("WARROOM_TOKEN_CAROL", "note contained"),
    ] {
        let (code, r) = post(
            &mut seen,
            &addr,
            "/api/v1/command",
            &[("authorization", &bearer(who))],
            &json!({"incident": inc, "text": text}).to_string(),
        );
        assert_eq!(code, 200, "{text}: {r}");
    }

    // Alert intake: Alertmanager (and a wrong token), Falco by token and by HMAC, Events v2
    // with the routing key in its body.
    let am = json!({
        "version": "4", "status": "firing", "receiver": "warroom", "groupKey": "{}:{}",
        "alerts": [{ "status": "firing",
            "labels": { "alertname": "PaymentsApiDown", "namespace": "payments", "pod": "api-7f9c" },
            "annotations": { "summary": "payments api down" }, "startsAt": "2026-12-01T01:58:00Z" }],
    })
    .to_string();
    let (code, _) = post(
        &mut seen,
        &addr,
        "/alerts/alertmanager",
        &[("authorization", &bearer("WARROOM_ALERTMANAGER_TOKEN"))],
        &am,
    );
    assert_eq!(code, 200);
    let wrong_am = format!("Bearer {}0", secret("WARROOM_ALERTMANAGER_TOKEN"));
    let (code, _) = post(
        &mut seen,
        &addr,
        "/alerts/alertmanager",
        &[("authorization", &wrong_am)],
        &am,
    );
    assert_eq!(code, 401);
    let falco = std::fs::read_to_string(
        warroom_tests::repo_root().join("commands/src/alert/fixtures/terminal-shell.json"),
    )
    .unwrap();
    let (code, r) = post(
        &mut seen,
        &addr,
        "/alerts/falco",
        &[("authorization", &bearer("WARROOM_FALCO_TOKEN"))],
        &falco,
    );
    assert!(code < 300, "{r}");
    let ts = warroom_tests::unix_now().to_string();
    let sig = format!(
        "sha256={}",
        warroom_tests::hmac_sha256_hex(
            secret("WARROOM_FALCO_HMAC"),
            format!("{ts}.{falco}").as_bytes()
        )
    );
    let (code, r) = post(
        &mut seen,
        &addr,
        "/alerts/falco",
        &[("x-warroom-timestamp", &ts), ("x-warroom-signature", &sig)],
        &falco,
    );
    assert!(code < 300, "{r}");
    let trigger = std::fs::read_to_string(
        warroom_tests::repo_root().join("commands/src/alert/fixtures/trigger.json"),
    )
    .unwrap()
    .replace(
        "\"routing_key\": \"samplekeyhere\"",
        &format!(
            "\"routing_key\": \"{}\"",
            secret("WARROOM_EVENTS_ROUTING_KEY")
        ),
    );
    let (code, r) = post(&mut seen, &addr, "/alerts/events/v2", &[], &trigger);
    assert_eq!(code, 202, "{r}");
    let (code, _) = post(
        &mut seen,
        &addr,
        "/alerts/events/v2",
        &[],
        &format!(
            r#"{{"routing_key":"{}","event_action":"explode"}}"#,
            secret("WARROOM_EVENTS_ROUTING_KEY")
        ),
    );
    assert_eq!(code, 400);

    // Slack: a signed slash command, and one signed with a secret one letter off.
    let slack_body = format!(
        "token=x&team_id=T1&team_domain=northwind&channel_id=C0GENERAL&channel_name=x&user_id=U024BE7LK&user_name=x&command=%2Fnote&text={}&response_url={}&trigger_id=t1",
        form_encode(&format!("{inc} seen from slack")),
        form_encode("https://hooks.slack.com/commands/T1/1/x")
    );
    for (secret_used, expect) in [
        (secret("SLACK_SIGNING_SECRET").to_owned(), 200),
        (format!("{}0", secret("SLACK_SIGNING_SECRET")), 401),
    ] {
        let ts = warroom_tests::unix_now().to_string();
        let sig = sign(secret_used.as_bytes(), &ts, slack_body.as_bytes());
        let mut resp = warroom_tests::agent()
            .post(&format!("http://{addr}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", &sig)
            .send(&slack_body)
            .unwrap();
        let status = resp.status().as_u16();
        seen.add(
            "the answer to a Slack command",
            resp.body_mut().read_to_string().unwrap_or_default(),
        );
        assert_eq!(status, expect);
    }

    // Discord: a signed interaction (the bot token then reaches the stand-in, never a log).
    let interaction = json!({
        "type": 2, "id": "3000000000000000001", "application_id": "1187654321098765432",
        "token": "tok-1", "guild_id": "1123456789012345678", "channel_id": "1123456789012340002",
        "version": 1,
        "member": { "user": { "id": "80351110224678914", "username": "u" }, "roles": [], "permissions": "0" },
        "data": { "id": "1", "name": "incident", "type": 1, "options": incident_open_options() },
    })
    .to_string();
    let (code, r) = post_signed(&addr, &key, &interaction).expect("warroom answers");
    seen.add("the answer to a Discord interaction", &r);
    assert_eq!(code, 200, "{r}");

    // Pages went out carrying their credentials (that is where they belong).
    wait_for("the pages", 30, || {
        (!pd.received("/v2/enqueue").is_empty() && !pd.received("/page").is_empty()).then_some(())
    });
    let hook = &pd.received("/page")[0];
    assert_eq!(
        hook.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {}", secret("PAGE_WEBHOOK_TOKEN")).as_str())
    );
    wait_for("the Discord channel", 30, || {
        discord.channel_named("shell-in-payments-api").map(|_| ())
    });

    // Preflight reaches AWS (moto) with the secret key and the external id.
    let mut preflight = s.command(&[
        "--config",
        plan.to_str().unwrap(),
        "--data",
        "pf-data",
        "preflight",
        "--cluster",
        "prod-eu",
    ]);
    preflight.envs(env.iter().copied());
    let out = preflight.output().unwrap();
    seen.add("preflight's stdout", &out.stdout);
    seen.add("preflight's stderr", &out.stderr);

    // What an operator and an auditor read.
    let api = Api::new(&addr);
    seen.add("/metrics", server.get("/metrics").1);
    seen.add("/readyz", server.get("/readyz").1);
    seen.add("the incident", api.incident(&inc).to_string());
    let (_, export) = api.get(&format!("/api/v1/incidents/{inc}/export"));
    seen.add("the JSON export", export.to_string());
    seen.add("the alert list", api.get("/api/v1/alerts").1.to_string());
    // Its log at debug level, to the end of a clean stop.
    let mut server = server;
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    assert!(server.child.wait().unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = server.output();
    assert!(!log.contains("panicked"), "{log}");
    seen.add("warroom's log", log);
    for args in [
        vec!["incident", "export", &inc, "--format", "markdown"],
        vec!["incident", "export", &inc, "--format", "json"],
        vec!["incident", "show", &inc],
        vec!["ledger", "verify"],
        vec!["plan", "check"],
        vec!["plan", "show"],
    ] {
        let mut all = vec!["--config", plan.to_str().unwrap()];
        all.extend(args.iter().copied());
        let mut cmd = s.command(&all);
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        seen.add(format!("`warroom {}` stdout", args.join(" ")), &out.stdout);
        seen.add(format!("`warroom {}` stderr", args.join(" ")), &out.stderr);
    }
    // Chat messages warroom posted (the stand-ins' request bodies; tokens travel in headers).
    for (method, body) in slack.calls() {
        seen.add(format!("Slack {method}"), body);
    }
    for (method, path, body) in discord.calls() {
        seen.add(format!("Discord {method} {path}"), body);
    }
    for m in smtp.messages() {
        seen.add("an e-mail page", m.to_string());
    }
    seen.folder(&s.path().join("warroom-data"));
    // The search finds a secret where one belongs: PagerDuty's own request carries its key.
    let mut control = Seen::default();
    control.add(
        "a PagerDuty request",
        pd.received("/v2/enqueue")[0].body.to_string(),
    );
    assert_eq!(control.leaks().len(), 1, "{:?}", control.leaks());
    // What was searched is the real thing: the debug log, the journal, the evidence.
    let sizes = |what: &str| -> usize {
        seen.0
            .iter()
            .filter(|(w, _)| w.contains(what))
            .map(|(_, b)| b.len())
            .sum()
    };
    assert!(
        sizes("warroom's log") > 10_000,
        "{}",
        sizes("warroom's log")
    );
    assert!(sizes("journal") > 10_000, "{}", sizes("journal"));
    assert!(sizes("evidence") > 1_000, "{}", sizes("evidence"));
    seen.assert_clean();
}
