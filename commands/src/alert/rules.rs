//! Which plan rule an alert meets, if any: the first rule (in plan order) whose source,
//! field patterns, Falco priority, address and time conditions all hold.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use warroom_config::{ActiveWindow, AlertRule, AlertSource, Plan, Weekday};

use super::{Alert, Intake};

/// What the plan says about one alert.
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'p> {
    /// Actionable: open or join an incident; page only when `page_now`.
    Actionable {
        rule: &'p AlertRule,
        /// False outside the rule's `active` window: recorded, nobody paged.
        page_now: bool,
    },
    /// No rule matched: recorded and counted, never paged.
    NotActionable,
}

/// The first rule `alert` meets. `sender` is the address the alert came from (for
/// `allow_from`); `now` is judged in the plan's time zone (so windows follow DST).
pub fn evaluate<'p>(
    plan: &'p Plan,
    alert: &Alert,
    sender: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Verdict<'p> {
    for rule in &plan.alerts.rules {
        if meets(rule, alert, sender, plan, now) {
            let page_now = rule.active.as_ref().is_none_or(|w| inside(w, plan, now));
            return Verdict::Actionable { rule, page_now };
        }
    }
    Verdict::NotActionable
}

/// Whether `rule` pages at `now` (outside its `active` window it only records).
pub fn pages_now(rule: &AlertRule, plan: &Plan, now: DateTime<Utc>) -> bool {
    rule.page.is_some() && rule.active.as_ref().is_none_or(|w| inside(w, plan, now))
}

/// Whether `sender` may send what `rule` acts on (its `allow_from`; any sender without one).
/// Also asked of an alert's end and acknowledgement, which stop paging.
pub fn sender_allowed(rule: &AlertRule, sender: Option<IpAddr>) -> bool {
    // A dual-stack listener sees IPv4 senders as `::ffff:a.b.c.d`.
    let sender = sender.map(|a| a.to_canonical());
    rule.allow_from.is_empty()
        || sender.is_some_and(|a| rule.allow_from.iter().any(|c| c.contains(a)))
}

fn meets(
    rule: &AlertRule,
    alert: &Alert,
    sender: Option<IpAddr>,
    plan: &Plan,
    now: DateTime<Utc>,
) -> bool {
    let source = match alert.intake {
        Intake::Alertmanager => AlertSource::Alertmanager,
        Intake::Falco => AlertSource::Falco,
        Intake::EventsV2 => AlertSource::Generic,
        Intake::Guardduty => AlertSource::Guardduty,
    };
    if rule.source != source
        || !rule
            .matchers
            .iter()
            .all(|(name, p)| alert.fields.get(name).is_some_and(|v| p.is_match(v)))
    {
        return false;
    }
    if let Some(least) = rule.priority_at_least
        && alert.priority.is_none_or(|p| p < least)
    {
        return false;
    }
    if !sender_allowed(rule, sender) {
        return false;
    }
    if let Some(field) = &rule.address_field {
        let Some(addr) = alert.fields.get(field).and_then(|v| address(v)) else {
            return false;
        };
        if !rule.address_in.is_empty() && !rule.address_in.iter().any(|c| c.contains(addr)) {
            return false;
        }
        if rule.address_not_in.iter().any(|c| c.contains(addr)) {
            return false;
        }
    }
    if let Some(window) = &rule.outside
        && inside(window, plan, now)
    {
        return false;
    }
    true
}

/// `10.0.0.1`, `[2001:db8::1]:443` or `10.0.0.1:443` → the address.
fn address(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|a| a.to_canonical())
}

fn inside(window: &ActiveWindow, plan: &Plan, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&plan.meta.timezone);
    let day = weekday(local.weekday());
    let previous = weekday(local.weekday().pred());
    let minute = (local.hour() * 60 + local.minute()) as u16;
    window.contains(day, previous, minute)
}

fn weekday(d: chrono::Weekday) -> Weekday {
    match d {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::{parse_alertmanager, parse_falco};
    use super::*;

    fn plan(rules: &str) -> Plan {
        let text =
            format!("[plan]\nname = \"t\"\nowner = \"t\"\ntimezone = \"Europe/Berlin\"\n{rules}");
        warroom_config::load_str("plan.toml", &text).expect("plan")
    }

    fn falco(priority: &str, sip: &str) -> Alert {
        parse_falco(
            format!(
                r#"{{"rule":"Inbound SSH Connection","priority":"{priority}","output":"ssh","output_fields":{{"fd.sip":"{sip}","k8s.ns.name":"payments","k8s.pod.name":"api-7f9c"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    const SSH_AFTER_HOURS: &str = r#"
[[alerts.rules]]
name = "ssh-from-outside-after-hours"
source = "falco"
match = { rule = "Inbound SSH.*" }
priority_at_least = "warning"
address_field = "fd.sip"
address_not_in = ["10.0.0.0/8", "192.168.0.0/16"]
outside = { days = ["mon", "tue", "wed", "thu", "fri"], from = "08:00", to = "18:00" }
severity = "sev1"
"#;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn actionable(v: Verdict<'_>) -> bool {
        matches!(v, Verdict::Actionable { .. })
    }

    #[test]
    fn ssh_from_a_foreign_address_after_work_hours_is_writable() {
        let p = plan(SSH_AFTER_HOURS);
        // Wednesday 2026-11-25 21:30 in Berlin (UTC+1) = 20:30 UTC: after hours.
        let night = utc(2026, 11, 25, 20, 30);
        let day = utc(2026, 11, 25, 10, 0);
        assert!(actionable(evaluate(
            &p,
            &falco("Warning", "203.0.113.9"),
            None,
            night
        )));
        assert!(!actionable(evaluate(
            &p,
            &falco("Warning", "203.0.113.9"),
            None,
            day
        )));
        assert!(
            !actionable(evaluate(&p, &falco("Warning", "10.1.2.3"), None, night)),
            "inside our ranges"
        );
        assert!(
            !actionable(evaluate(&p, &falco("Notice", "203.0.113.9"), None, night)),
            "below warning"
        );
        assert!(actionable(evaluate(
            &p,
            &falco("Critical", "203.0.113.9"),
            None,
            night
        )));
        // Saturday daytime is outside business hours.
        assert!(actionable(evaluate(
            &p,
            &falco("Error", "203.0.113.9"),
            None,
            utc(2026, 11, 28, 11, 0)
        )));
    }

    #[test]
    fn business_hours_follow_the_plans_time_zone_across_a_dst_change() {
        let p = plan(SSH_AFTER_HOURS);
        let alert = falco("Warning", "203.0.113.9");
        // Friday 2026-03-27, Berlin on CET (UTC+1): 07:30 UTC = 08:30 local, business hours.
        assert!(!actionable(evaluate(
            &p,
            &alert,
            None,
            utc(2026, 3, 27, 7, 30)
        )));
        // Monday 2026-03-30, after the switch to CEST (UTC+2): 06:30 UTC = 08:30 local, inside.
        assert!(!actionable(evaluate(
            &p,
            &alert,
            None,
            utc(2026, 3, 30, 6, 30)
        )));
        // …and 05:30 UTC that Monday = 07:30 local, before hours: actionable. The same UTC
        // time the Friday before (06:30 local) was before hours too.
        assert!(actionable(evaluate(
            &p,
            &alert,
            None,
            utc(2026, 3, 30, 5, 30)
        )));
        // 16:30 UTC: 17:30 CET on Friday (inside), 18:30 CEST on Monday (after hours).
        assert!(!actionable(evaluate(
            &p,
            &alert,
            None,
            utc(2026, 3, 27, 16, 30)
        )));
        assert!(actionable(evaluate(
            &p,
            &alert,
            None,
            utc(2026, 3, 30, 16, 30)
        )));
    }

    #[test]
    fn regex_matchers_sources_senders_and_the_first_rule_win() {
        let p = plan(
            r#"
[[alerts.rules]]
name = "crash"
source = "alertmanager"
match = { alertname = "KubePodCrashLooping", namespace = "payments|checkout" }
severity = "sev3"
allow_from = ["10.0.0.0/8"]
active = { days = ["mon", "tue", "wed", "thu", "fri"], from = "08:00", to = "20:00" }

[[alerts.rules]]
name = "any-payments"
source = "alertmanager"
match = { namespace = "payments" }
severity = "sev4"
"#,
        );
        let body = |ns: &str| {
            format!(
                r#"{{"version":"4","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"KubePodCrashLooping","namespace":"{ns}"}}}}]}}"#
            )
        };
        let a = &parse_alertmanager(body("payments").as_bytes()).unwrap()[0];
        let inside = "10.2.3.4".parse().ok();
        let weekday_noon = utc(2026, 11, 25, 11, 0);
        match evaluate(&p, a, inside, weekday_noon) {
            Verdict::Actionable { rule, page_now } => {
                assert_eq!(rule.name, "crash");
                assert!(page_now);
            }
            other => panic!("{other:?}"),
        }
        // Outside the active window the rule still matches, but nobody is paged.
        match evaluate(&p, a, inside, utc(2026, 11, 25, 22, 0)) {
            Verdict::Actionable { rule, page_now } => {
                assert_eq!(rule.name, "crash");
                assert!(!page_now);
            }
            other => panic!("{other:?}"),
        }
        // From a sender outside allow_from the first rule does not apply; the second does.
        match evaluate(&p, a, "192.0.2.1".parse().ok(), weekday_noon) {
            Verdict::Actionable { rule, .. } => assert_eq!(rule.name, "any-payments"),
            other => panic!("{other:?}"),
        }
        // The regex must match the whole value: `payments-dev` is not `payments`.
        let dev = &parse_alertmanager(body("payments-dev").as_bytes()).unwrap()[0];
        assert!(!actionable(evaluate(&p, dev, inside, weekday_noon)));
        // A Falco alert never meets an Alertmanager rule.
        assert!(!actionable(evaluate(
            &p,
            &falco("Emergency", "1.2.3.4"),
            inside,
            weekday_noon
        )));
    }

    #[test]
    fn addresses_with_ports_are_read() {
        assert_eq!(address("10.0.0.1:443"), "10.0.0.1".parse().ok());
        assert_eq!(address("[2001:db8::1]:22"), "2001:db8::1".parse().ok());
        assert_eq!(address("not-an-ip"), None);
        assert_eq!(address("::ffff:10.1.2.3"), "10.1.2.3".parse().ok());
    }
}
