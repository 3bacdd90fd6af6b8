//! Shapes of identifiers and settings that are plain strings in the plan.

use crate::locate::FieldPath;
use crate::model::Plan;
use crate::model::communication::SlackMode;
use crate::model::infra::SnapshotLock;
use crate::model::storage::{EvidenceStore, LockMode};
use crate::report::Report;

pub(super) fn check(plan: &Plan, report: &mut Report<'_>) {
    meta(plan, report);
    people(plan, report);
    communication(plan, report);
    clusters(plan, report);
    aws(plan, report);
    urls(plan, report);
    alerts(plan, report);
    ha(plan, report);
    limits(plan, report);
}

fn limits(plan: &Plan, report: &mut Report<'_>) {
    let l = &plan.console.limits;
    let root = FieldPath::root().key("console").key("limits");
    if !(1..=1_000_000).contains(&l.connections) {
        report.at(
            &root.key("connections"),
            format!("connections = {} is outside 1–1000000", l.connections),
            "connections open at once; 4096 suits most installations",
        );
    }
    for (field, value, hint) in [
        (
            "header_timeout",
            l.header_timeout,
            "how long a request's headers may take; \"10s\" is usual",
        ),
        (
            "body_timeout",
            l.body_timeout,
            "how long a request's body may take; \"30s\" is usual",
        ),
    ] {
        if !(1..=600).contains(&value.as_secs()) {
            report.at(
                &root.key(field),
                format!(
                    "{field} = {} is outside 1s–10m",
                    crate::format_duration(value)
                ),
                hint,
            );
        }
    }
    if l.per_source > 0 && l.burst == 0 {
        report.at(
            &root.key("burst"),
            "burst = 0 refuses every request while per_source is on",
            "at least 1; twice per_source absorbs a burst of retries",
        );
    }
    if !(32..=128).contains(&l.ipv6_prefix) {
        report.at(
            &root.key("ipv6_prefix"),
            format!("ipv6_prefix = {} is outside 32–128", l.ipv6_prefix),
            "64 counts one host's /64 as one sender; 128 counts each IPv6 address",
        );
    }
}

fn ha(plan: &Plan, report: &mut Report<'_>) {
    let Some(ha) = &plan.ha else {
        return;
    };
    let root = FieldPath::root().key("ha");
    let bucket = crate::model::ha::parse_s3_url(&ha.bucket).map(|(b, _)| b);
    if !bucket.is_some_and(|b| {
        (3..=63).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
    }) {
        report.at(
            &root.key("bucket"),
            format!("`{}` is not an S3 bucket URL", ha.bucket),
            "write s3://BUCKET/PREFIX/, e.g. s3://northwind-warroom-ledger/prod/",
        );
    }
    if !is_region(&ha.region) {
        report.at(
            &root.key("region"),
            format!("`{}` is not an AWS region", ha.region),
            "e.g. eu-central-1",
        );
    }
    if let Some(lease) = &ha.lease {
        let path = root.key("lease");
        for (field, value) in [("namespace", &lease.namespace), ("name", &lease.name)] {
            let ok = !value.is_empty()
                && value.len() <= 63
                && value
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !value.starts_with('-')
                && !value.ends_with('-');
            if !ok {
                report.at(
                    &path.key(field),
                    format!("`{value}` is not a Kubernetes name"),
                    "lowercase letters, digits and '-', e.g. warroom",
                );
            }
        }
        if !(2..=300).contains(&lease.duration.as_secs()) {
            report.at(
                &path.key("duration"),
                format!(
                    "a lease of {} is outside 2s–5m",
                    crate::format_duration(lease.duration)
                ),
                "a standby takes over about this long after the leader stops; \"15s\" is usual",
            );
        }
    }
    // Fractions of a second are refused where every duration is parsed.
    if !(1..=60).contains(&ha.replicated_within.as_secs()) {
        report.at(
            &root.key("replicated_within"),
            format!(
                "replicated_within = {} is outside 1s–60s",
                crate::format_duration(ha.replicated_within)
            ),
            "a reply waits this long for its upload; \"5s\" suits S3 in the same region",
        );
    }
}

fn meta(plan: &Plan, report: &mut Report<'_>) {
    if report.is_complete("plan") && plan.meta.name.trim().is_empty() {
        report.at(
            &FieldPath::root().key("plan").key("name"),
            "the plan name is empty",
            "name the plan, e.g. \"Northwind Payments production\"",
        );
    }
}

pub(crate) fn is_slack_user(id: &str) -> bool {
    id.len() >= 9
        && id.starts_with(['U', 'W'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

pub(crate) fn is_snowflake(id: &str) -> bool {
    (17..=20).contains(&id.len()) && id.chars().all(|c| c.is_ascii_digit())
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.chars().all(|c| c.is_ascii_digit())
    })
}

fn people(plan: &Plan, report: &mut Report<'_>) {
    for (i, person) in plan.people.iter().enumerate() {
        let path = FieldPath::root().key("people").index(i);
        if let Some(slack) = &person.slack
            && !is_slack_user(slack)
        {
            report.at(
                &path.key("slack"),
                format!("`{slack}` is not a Slack user id"),
                "use the member id from the Slack profile (⋮ → Copy member ID), e.g. U024BE7LH",
            );
        }
        if let Some(discord) = &person.discord
            && !is_snowflake(discord)
        {
            report.at(
                &path.key("discord"),
                format!("`{discord}` is not a Discord user id"),
                "use the numeric id (Developer Mode → Copy User ID), written as a string",
            );
        }
        if let Some(email) = &person.email
            && !is_email(email)
        {
            report.at(
                &path.key("email"),
                format!("`{email}` is not an email address"),
                "write e.g. alice@example.com",
            );
        }
        if let Some(phone) = &person.phone
            && !is_e164(phone)
        {
            report.at(
                &path.key("phone"),
                format!("`{phone}` is not an E.164 phone number"),
                "write + country code and number without spaces, e.g. +4915112345678",
            );
        }
    }
}

fn communication(plan: &Plan, report: &mut Report<'_>) {
    let path = FieldPath::root().key("communication");
    if let Some(slack) = &plan.communication.slack {
        let slack_path = path.key("slack");
        match slack.mode {
            SlackMode::Http if slack.signing_secret.is_none() => report.at(
                &slack_path,
                "Slack http mode needs signing_secret to verify requests",
                "add signing_secret = { env = \"SLACK_SIGNING_SECRET\" } or use mode = \"socket\"",
            ),
            SlackMode::Socket if slack.app_token.is_none() => report.at(
                &slack_path,
                "Slack socket mode needs app_token (xapp-…)",
                "add app_token = { env = \"SLACK_APP_TOKEN\" } or use mode = \"http\"",
            ),
            _ => {}
        }
    }
    if let Some(discord) = &plan.communication.discord {
        let d = path.key("discord");
        if !is_snowflake(&discord.application_id) {
            report.at(
                &d.key("application_id"),
                format!(
                    "`{}` is not a Discord application id",
                    discord.application_id
                ),
                "copy the numeric Application ID from the Discord developer portal",
            );
        }
        if discord.public_key.len() != 64
            || !discord.public_key.chars().all(|c| c.is_ascii_hexdigit())
        {
            report.at(
                &d.key("public_key"),
                "the Discord public key must be 64 hexadecimal characters",
                "copy the Public Key from the Discord developer portal",
            );
        }
        if let Some(guild) = &discord.guild_id
            && !is_snowflake(guild)
        {
            report.at(
                &d.key("guild_id"),
                format!("`{guild}` is not a Discord server id"),
                "use the numeric server id, as a string",
            );
        }
    }
}

fn clusters(plan: &Plan, report: &mut Report<'_>) {
    for (i, cluster) in plan.clusters.iter().enumerate() {
        let path = FieldPath::root().key("clusters").index(i);
        let hint = "set either kubeconfig (with an optional context) or in_cluster = true";
        match (&cluster.kubeconfig, cluster.in_cluster) {
            (Some(_), true) => report.at(
                &path.key("in_cluster"),
                format!(
                    "cluster {} sets both kubeconfig and in_cluster",
                    cluster.name
                ),
                hint,
            ),
            (None, false) => report.at(
                &path,
                format!(
                    "cluster {} sets neither kubeconfig nor in_cluster",
                    cluster.name
                ),
                hint,
            ),
            _ => {}
        }
        if cluster.context.is_some() && cluster.kubeconfig.is_none() {
            report.at(
                &path.key("context"),
                "context only applies with kubeconfig",
                hint,
            );
        }
    }
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// The account of `arn:<partition>:iam::<account>:role/<name>`, when the ARN has that shape.
fn role_arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("role/")?;
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    (arn_word == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "iam"
        && region.is_empty()
        && is_account_id(account)
        && valid_name)
        .then_some(account)
}

fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// EBS snapshot lock's limits: whole days 1–36500; cool-off whole hours 1–72, compliance only.
fn snapshot_lock(lock: &SnapshotLock, path: &FieldPath, report: &mut Report<'_>) {
    const DAY: u64 = 86_400;
    let secs = lock.duration.as_secs();
    if !secs.is_multiple_of(DAY) || !(1..=36_500).contains(&(secs / DAY)) {
        report.at(
            &path.key("duration"),
            format!(
                "an EBS snapshot lock lasts whole days from 1 to 36500, not {}",
                crate::duration::format(lock.duration)
            ),
            "write e.g. duration = \"30d\"",
        );
    }
    if let Some(cool_off) = lock.cool_off {
        let secs = cool_off.as_secs();
        if lock.mode != LockMode::Compliance {
            report.at(
                &path.key("cool_off"),
                "a cool-off period applies to compliance mode only",
                "remove cool_off, or set mode = \"compliance\"",
            );
        } else if !secs.is_multiple_of(3600) || !(1..=72).contains(&(secs / 3600)) {
            report.at(
                &path.key("cool_off"),
                format!(
                    "a cool-off period is whole hours from 1 to 72, not {}",
                    crate::duration::format(cool_off)
                ),
                "write e.g. cool_off = \"24h\"",
            );
        }
    }
}

fn aws(plan: &Plan, report: &mut Report<'_>) {
    for (i, account) in plan.aws_accounts.iter().enumerate() {
        let path = FieldPath::root().key("aws_accounts").index(i);
        let id_ok = is_account_id(&account.account_id);
        if !id_ok {
            report.at(
                &path.key("account_id"),
                format!("`{}` is not an AWS account id", account.account_id),
                "write the 12 digits as a string, e.g. \"123456789012\"",
            );
        }
        if !is_region(&account.region) {
            report.at(
                &path.key("region"),
                format!("`{}` is not an AWS region", account.region),
                "write e.g. eu-central-1",
            );
        }
        match role_arn_account(&account.role_arn) {
            None => report.at(
                &path.key("role_arn"),
                format!("`{}` is not an IAM role ARN", account.role_arn),
                "write arn:aws:iam::<12-digit account>:role/<name>",
            ),
            Some(arn_account) if id_ok && arn_account != account.account_id => report.at(
                &path.key("role_arn"),
                format!(
                    "role_arn is in account {arn_account} but account_id is {}",
                    account.account_id
                ),
                "the role warroom assumes must live in the account it acts on",
            ),
            Some(_) => {}
        }
        if let Some(lock) = &account.snapshot_lock {
            snapshot_lock(lock, &path.key("snapshot_lock"), report);
        }
    }
    if let Some(EvidenceStore::S3 { region, .. }) = &plan.storage.evidence
        && !is_region(region)
    {
        report.at(
            &FieldPath::root()
                .key("storage")
                .key("evidence")
                .key("region"),
            format!("`{region}` is not an AWS region"),
            "write e.g. eu-central-1",
        );
    }
}

fn urls(plan: &Plan, report: &mut Report<'_>) {
    let root = FieldPath::root();
    let mut found: Vec<(FieldPath, &str)> = Vec::new();
    if let Some(slack) = &plan.communication.slack
        && let Some(url) = &slack.api_base_url
    {
        found.push((
            root.key("communication").key("slack").key("api_base_url"),
            url,
        ));
    }
    if let Some(discord) = &plan.communication.discord
        && let Some(url) = &discord.api_base_url
    {
        found.push((
            root.key("communication").key("discord").key("api_base_url"),
            url,
        ));
    }
    if let Some(pd) = &plan.paging.pagerduty
        && let Some(url) = &pd.api_base_url
    {
        found.push((root.key("paging").key("pagerduty").key("api_base_url"), url));
    }
    if let Some(webhook) = &plan.paging.webhook {
        found.push((root.key("paging").key("webhook").key("url"), &webhook.url));
    }
    if let Some(url) = &plan.console.public_url {
        found.push((root.key("console").key("public_url"), url));
    }
    if let Some(EvidenceStore::S3 {
        endpoint: Some(url),
        ..
    }) = &plan.storage.evidence
    {
        found.push((root.key("storage").key("evidence").key("endpoint"), url));
    }
    for (path, url) in found {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            report.at(
                &path,
                format!("`{url}` is not an http(s) URL"),
                "write e.g. https://example.com/path",
            );
        }
    }
}

fn alerts(plan: &Plan, report: &mut Report<'_>) {
    for (i, rule) in plan.alerts.rules.iter().enumerate() {
        let rule_path = FieldPath::root().key("alerts").key("rules").index(i);
        // `active` acts only inside its window, `outside` only outside it: an empty window
        // would silence the rule, or exclude nothing, without a word.
        for (key, window, leave_out) in [
            (
                "active",
                &rule.active,
                "leave out `active` to be active all the time",
            ),
            (
                "outside",
                &rule.outside,
                "leave out `outside` to act at every hour",
            ),
        ] {
            let Some(window) = window else { continue };
            let path = rule_path.key(key);
            if window.days.is_empty() {
                report.at(
                    &path.key("days"),
                    format!("the {key} window has no days"),
                    "list days, e.g. [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]",
                );
            }
            if window.from == window.to {
                report.at(
                    &path.key("to"),
                    format!("the {key} window is empty (from equals to)"),
                    leave_out,
                );
            }
        }
    }
    let intake = &plan.alerts.intake;
    for (source, credentials) in [
        ("alertmanager", &intake.alertmanager),
        ("falco", &intake.falco),
        ("events_v2", &intake.events_v2),
        ("guardduty", &intake.guardduty),
    ] {
        let Some(c) = credentials else { continue };
        let path = FieldPath::root().key("alerts").key("intake").key(source);
        if c.token.is_none() && c.hmac_secret.is_none() && c.routing_key.is_none() {
            // Loaded as it was, every post would be answered 503 and retried for ever.
            report.at(
                &path,
                format!("the {source} intake names no credential, so no sender could prove itself"),
                "add token = { env = \"…\" } (or hmac_secret), or leave the section out to keep the intake closed",
            );
        }
        if source != "events_v2" && c.routing_key.is_some() {
            report.at(
                &path.key("routing_key"),
                format!("routing_key is for the Events API v2 intake, not {source}"),
                "use token or hmac_secret here; routing_key goes under [alerts.intake.events_v2]",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_and_discord_ids() {
        assert!(is_slack_user("U024BE7LH"));
        assert!(is_slack_user("W0123ABCDE"));
        assert!(!is_slack_user("alice"));
        assert!(is_snowflake("80351110224678912"));
        assert!(!is_snowflake("8035111022467891x"));
    }

    #[test]
    fn role_arn_shape_and_account() {
        assert_eq!(
            role_arn_account("arn:aws:iam::123456789012:role/warroom/responder"),
            Some("123456789012")
        );
        assert_eq!(role_arn_account("arn:aws:iam::12345:role/x"), None);
        assert_eq!(role_arn_account("arn:aws:iam::123456789012:user/x"), None);
        assert_eq!(role_arn_account("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn phone_email_region() {
        assert!(is_e164("+4915112345678"));
        assert!(!is_e164("0151 1234567"));
        assert!(is_email("alice@northwind.example"));
        assert!(!is_email("alice@localhost"));
        assert!(is_region("eu-central-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("europe"));
    }
}
