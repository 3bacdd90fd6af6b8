//! A game day's scorecard for people: Markdown an auditor reads, and an SVG timeline chart.
//!
//! Both are pure functions of the scorecard (no clock, no randomness), so an export can be
//! rendered again later and compared byte for byte.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use super::score::{FlagKind, Measure, Scorecard, Who};

/// An empty cell: nothing to say (no target, no verdict, no earlier figure).
const DASH: &str = "—";

/// "45s", "4m 05s", "1h 02m 03s": padded so a column of times lines up by eye.
pub fn duration(seconds: u64) -> String {
    let hours = seconds / 3600;
    let minutes = (seconds / 60) % 60;
    let secs = seconds % 60;
    if hours > 0 {
        format!("{hours}h {minutes:02}m {secs:02}s")
    } else if minutes > 0 {
        format!("{minutes}m {secs:02}s")
    } else {
        format!("{secs}s")
    }
}

/// The scorecard as Markdown: times, clock, measures against targets and the last run, the
/// two-person waits, flags, the timeline and earlier runs.
pub fn markdown(card: &Scorecard) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Game day: {} ({})",
        one_line(&card.title),
        one_line(&card.scenario)
    );
    out.push('\n');
    let started = stamp(card.started_at);
    let ended = card.ended_at.map_or_else(|| "running".to_owned(), stamp);
    let pace = clock(card.speed);
    let evidence = if card.evidence_first { "yes" } else { "no" };
    let _ = writeln!(out, "- Started: {started}");
    let _ = writeln!(out, "- Ended: {ended}");
    let _ = writeln!(out, "- Clock: {pace}");
    let _ = writeln!(
        out,
        "- Evidence captured before anything destructive: {evidence}"
    );

    let measures = card.measures.iter().map(|m| {
        vec![
            cell(&m.name),
            reached(m.seconds),
            or_dash(m.target_seconds),
            verdict(m.met).to_owned(),
            or_dash(m.previous_seconds),
        ]
    });
    table(
        &mut out,
        "Measures",
        "No measures.",
        &["measure", "time", "target", "", "previous run"],
        measures,
    );
    let waits = card
        .waits
        .iter()
        .map(|w| vec![cell(&w.request), cell(&w.action), duration(w.seconds)]);
    table(
        &mut out,
        "Two-person waits",
        "No action waited for a second person.",
        &["request", "action", "wait"],
        waits,
    );

    out.push_str("\n## Flags\n\n");
    if card.flags.is_empty() {
        out.push_str("No flags.\n");
    } else {
        for f in &card.flags {
            let _ = writeln!(
                out,
                "- {} — {}: {}",
                duration(f.at_seconds),
                flag_words(f.kind),
                one_line(&f.text)
            );
        }
    }

    let timeline = card.timeline.iter().map(|m| {
        vec![
            duration(m.at_seconds),
            who_word(m.who).to_owned(),
            cell(&m.text),
        ]
    });
    table(
        &mut out,
        "Timeline",
        "Nothing recorded.",
        &["time", "who", "text"],
        timeline,
    );

    out.push_str("\n## Previous runs\n\n");
    if card.previous.is_empty() {
        out.push_str("None: this is the first recorded run of this scenario.\n");
    } else {
        // The usual four first, then any other name an earlier run measured, so nothing
        // recorded is dropped from the comparison.
        let mut names: Vec<&str> = super::score::MEASURES.to_vec();
        for run in &card.previous {
            for m in &run.measures {
                if !names.contains(&m.name.as_str()) {
                    names.push(&m.name);
                }
            }
        }
        out.push_str("| started |");
        for name in &names {
            let _ = write!(out, " {} |", cell(name));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(names.len()));
        out.push('\n');
        for run in &card.previous {
            let _ = write!(out, "| {} |", stamp(run.started_at));
            for name in &names {
                let figure = run
                    .measures
                    .iter()
                    .find(|m| m.name == *name)
                    .map_or_else(|| DASH.to_owned(), previous_figure);
                let _ = write!(out, " {figure} |");
            }
            out.push('\n');
        }
    }
    out
}

/// A `## heading` section: a table of `rows` under `header`, or `empty` when there are none.
fn table(
    out: &mut String,
    heading: &str,
    empty: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    let _ = write!(out, "\n## {heading}\n\n");
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        let _ = writeln!(out, "{empty}");
        return;
    }
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

// Chart layout, in SVG user units: lane labels on the left, target labels above the lanes,
// the time axis and its tick labels below them.
const WIDTH: u32 = 960;
const HEIGHT: u32 = 250;
const LEFT: f64 = 100.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 60.0;
const LANE: f64 = 50.0;
const AXIS: f64 = TOP + 3.0 * LANE;
const LANES: [Who; 3] = [Who::Attacker, Who::Warroom, Who::Team];

/// The timeline as a self-contained SVG: one lane per actor, one `class="mark"` element per
/// mark, a dashed `class="target"` line per target, flags as red triangles on the axis.
pub fn svg(card: &Scorecard) -> String {
    let last_mark = card
        .timeline
        .iter()
        .map(|m| m.at_seconds)
        .max()
        .unwrap_or(0);
    let last_target = card
        .measures
        .iter()
        .filter_map(|m| m.target_seconds)
        .max()
        .unwrap_or(0);
    // At least a minute, so a short or empty run still gets a readable axis.
    let span = last_mark.max(last_target).max(60);
    let right = f64::from(WIDTH) - RIGHT;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let heading = xml(&format!("Game day: {} ({})", card.title, card.scenario));
    let _ = writeln!(out, "<title>{heading}</title>");
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="14" font-weight="bold">{heading}</text>"#
    );

    for who in LANES {
        let y = num(lane_y(who));
        let label_y = num(lane_y(who) + 4.0);
        let (x1, x2, label_x) = (num(LEFT), num(right), num(LEFT - 10.0));
        let fill = colour(who);
        let name = lane_name(who);
        let _ = writeln!(
            out,
            r##"<line class="lane" x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#dddddd"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text class="lane-label" x="{label_x}" y="{label_y}" text-anchor="end" fill="{fill}">{name}</text>"#
        );
    }

    let (x1, x2, axis_y) = (num(LEFT), num(right), num(AXIS));
    let _ = writeln!(
        out,
        r##"<line class="axis" x1="{x1}" y1="{axis_y}" x2="{x2}" y2="{axis_y}" stroke="#333333"/>"##
    );
    let (tick_end, tick_label_y) = (num(AXIS + 5.0), num(AXIS + 18.0));
    for t in ticks(span) {
        let tx = num(x_at(t, span));
        let label = duration(t);
        let _ = writeln!(
            out,
            r##"<line class="tick" x1="{tx}" y1="{axis_y}" x2="{tx}" y2="{tick_end}" stroke="#333333"/>"##
        );
        let _ = writeln!(
            out,
            r##"<text class="tick-label" x="{tx}" y="{tick_label_y}" text-anchor="middle" fill="#333333">{label}</text>"##
        );
    }

    let targets = card
        .measures
        .iter()
        .filter_map(|m| m.target_seconds.map(|t| (&m.name, t)));
    let line_top = num(TOP - 4.0);
    for (i, (name, target)) in targets.enumerate() {
        let at = x_at(target, span);
        let tx = num(at);
        // Alternate heights so targets close together keep readable labels.
        let label_y = num(if i % 2 == 0 { TOP - 8.0 } else { TOP - 20.0 });
        // Keep labels near either edge inside the chart.
        let anchor = if at > right - 60.0 {
            "end"
        } else if at < LEFT + 60.0 {
            "start"
        } else {
            "middle"
        };
        let label = xml(&format!("{name} {}", duration(target)));
        let _ = writeln!(
            out,
            r##"<line class="target" x1="{tx}" y1="{line_top}" x2="{tx}" y2="{axis_y}" stroke="#555555" stroke-dasharray="4 3"/>"##
        );
        let _ = writeln!(
            out,
            r##"<text class="label" x="{tx}" y="{label_y}" text-anchor="{anchor}" font-size="10" fill="#555555">{label}</text>"##
        );
    }

    for (i, mark) in card.timeline.iter().enumerate() {
        // Marks at the same second in the same lane would hide each other: nudge them apart.
        let same = card.timeline[..i]
            .iter()
            .filter(|o| o.who == mark.who && o.at_seconds == mark.at_seconds)
            .count();
        let nudge = match same % 3 {
            0 => 0.0,
            1 => -12.0,
            _ => 12.0,
        };
        let cx = num(x_at(mark.at_seconds, span));
        let cy = num(lane_y(mark.who) + nudge);
        let who = who_word(mark.who);
        let fill = colour(mark.who);
        let tip = xml(&format!(
            "{} {who}: {}",
            duration(mark.at_seconds),
            mark.text
        ));
        let _ = writeln!(
            out,
            r#"<circle class="mark" data-who="{who}" cx="{cx}" cy="{cy}" r="5" fill="{fill}"><title>{tip}</title></circle>"#
        );
    }

    // Flags sit on the axis as red triangles, apart from the marks, so a mark stays one element.
    for f in &card.flags {
        let at = x_at(f.at_seconds, span);
        let d = format!(
            "M {} {} L {} {} L {} {} Z",
            num(at - 5.0),
            num(AXIS),
            num(at + 5.0),
            num(AXIS),
            num(at),
            num(AXIS - 9.0)
        );
        let tip = xml(&format!(
            "{} {}: {}",
            duration(f.at_seconds),
            flag_words(f.kind),
            f.text
        ));
        let _ = writeln!(
            out,
            r##"<path class="flag" d="{d}" fill="#e31a1c"><title>{tip}</title></path>"##
        );
    }

    out.push_str("</svg>\n");
    out
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn clock(speed: u32) -> String {
    if speed == 0 {
        "manual clock".to_owned()
    } else {
        format!("×{speed}")
    }
}

/// A measure's time, or "not reached".
pub fn reached(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| "not reached".to_owned(), duration)
}

fn or_dash(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| DASH.to_owned(), duration)
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => DASH,
    }
}

/// An earlier run's figure for one measure, with its verdict when it had a target.
fn previous_figure(m: &Measure) -> String {
    let time = reached(m.seconds);
    match m.met {
        Some(true) => format!("{time} (met)"),
        Some(false) => format!("{time} (missed)"),
        None => time,
    }
}

fn who_word(who: Who) -> &'static str {
    // The same words as the scorecard's JSON, so `data-who` matches it.
    match who {
        Who::Attacker => "attacker",
        Who::Warroom => "warroom",
        Who::Team => "team",
    }
}

fn lane_name(who: Who) -> &'static str {
    match who {
        Who::Attacker => "Attacker",
        Who::Warroom => "Warroom",
        Who::Team => "Team",
    }
}

fn colour(who: Who) -> &'static str {
    match who {
        Who::Attacker => "#b03a2e",
        Who::Warroom => "#2c6fbb",
        Who::Team => "#2e8b57",
    }
}

fn flag_words(kind: FlagKind) -> &'static str {
    match kind {
        FlagKind::Lateral => "attacker moved laterally",
        FlagKind::EvidenceLost => "evidence lost",
        FlagKind::DestructiveBeforeCapture => "destructive action before capture",
        FlagKind::Exec => "exec into a container",
        FlagKind::MassDelete => "mass delete",
        FlagKind::TargetMissed => "target missed",
    }
}

/// Text inside a table cell: a `|` would end the cell and a newline the row.
fn cell(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('|', "\\|")
        .replace('\n', "<br>")
}

/// Text in a heading or list item, where a newline would end it.
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\r', '\n'], " ")
}

/// Text or attribute value in XML. Control characters XML 1.0 forbids become U+FFFD, so
/// attacker-chosen text (a command line, a pod name) cannot make the file unparseable.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(entity) = warroom_commands::markup::entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// One decimal place: enough for the eye, and the same text on every platform.
fn num(v: f64) -> String {
    format!("{v:.1}")
}

fn lane_y(who: Who) -> f64 {
    let row = match who {
        Who::Attacker => 0.0,
        Who::Warroom => 1.0,
        Who::Team => 2.0,
    };
    TOP + LANE * (row + 0.5)
}

fn x_at(seconds: u64, span: u64) -> f64 {
    let plot = f64::from(WIDTH) - LEFT - RIGHT;
    LEFT + plot * (seconds.min(span) as f64) / (span as f64)
}

/// Tick times from 0 to `span`: the first round step giving at most six intervals.
fn ticks(span: u64) -> Vec<u64> {
    const STEPS: [u64; 15] = [
        10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ];
    let step = STEPS
        .iter()
        .copied()
        .find(|&s| span / s <= 6)
        .unwrap_or_else(|| span.div_ceil(6).max(1));
    let mut out = Vec::new();
    let mut t = 0u64;
    loop {
        out.push(t);
        match t.checked_add(step) {
            Some(next) if next <= span => t = next,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::score::{Flag, Mark, PreviousRun, RunState, Wait};
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, day, hour, minute, 0).unwrap()
    }

    fn measure(
        name: &str,
        seconds: Option<u64>,
        target_seconds: Option<u64>,
        met: Option<bool>,
        previous_seconds: Option<u64>,
    ) -> Measure {
        Measure {
            name: name.to_owned(),
            seconds,
            target_seconds,
            met,
            previous_seconds,
        }
    }

    fn mark(at_seconds: u64, who: Who, text: &str) -> Mark {
        Mark {
            at_seconds,
            who,
            text: text.to_owned(),
        }
    }

    fn card() -> Scorecard {
        Scorecard {
            scenario: "payments-breach".to_owned(),
            title: "A shell in a payments pod".to_owned(),
            started_at: at(1, 10, 0),
            ended_at: Some(at(1, 10, 45)),
            speed: 1,
            state: RunState::Ended,
            measures: vec![
                measure("acknowledge", Some(245), Some(300), Some(true), Some(190)),
                measure("capture", Some(700), Some(600), Some(false), None),
                measure("contain", None, Some(900), None, Some(1200)),
                measure("resolve", None, None, None, None),
            ],
            waits: vec![Wait {
                request: "r-7".to_owned(),
                action: "quarantine pod payments/api-7f9c".to_owned(),
                seconds: 90,
            }],
            evidence_first: false,
            flags: vec![Flag {
                at_seconds: 600,
                kind: FlagKind::Lateral,
                text: "moved to checkout/web-5d8b".to_owned(),
            }],
            timeline: vec![
                mark(
                    0,
                    Who::Attacker,
                    "Falco sees a shell | in payments/api-7f9c",
                ),
                mark(5, Who::Warroom, "page <sent> & 'acknowledged'"),
                mark(245, Who::Team, "acknowledged\nby alice"),
                mark(600, Who::Attacker, "lateral to checkout/web-5d8b"),
                mark(700, Who::Team, "capture pod payments/api-7f9c"),
            ],
            previous: vec![PreviousRun {
                started_at: at(1, 9, 0),
                measures: vec![
                    measure("acknowledge", Some(190), Some(300), Some(true), None),
                    measure("capture", None, Some(600), Some(false), None),
                ],
            }],
        }
    }

    #[test]
    fn duration_shows_seconds_minutes_and_hours() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(245), "4m 05s");
        assert_eq!(duration(3600), "1h 00m 00s");
        assert_eq!(duration(3723), "1h 02m 03s");
    }

    #[test]
    fn markdown_opens_with_title_and_scenario_heading() {
        let md = markdown(&card());
        assert!(md.starts_with("# Game day: A shell in a payments pod (payments-breach)\n"));
    }

    #[test]
    fn markdown_shows_245_seconds_as_4m_05s() {
        let md = markdown(&card());
        assert!(
            md.contains("| acknowledge | 4m 05s | 5m 00s | met | 3m 10s |"),
            "{md}"
        );
    }

    #[test]
    fn markdown_says_missed_for_a_missed_target() {
        let md = markdown(&card());
        assert!(
            md.contains("| capture | 11m 40s | 10m 00s | missed | — |"),
            "{md}"
        );
    }

    #[test]
    fn markdown_says_not_reached_for_an_unreached_measure() {
        let md = markdown(&card());
        assert!(
            md.contains("| contain | not reached | 15m 00s | — | 20m 00s |"),
            "{md}"
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_newlines_in_table_cells() {
        let md = markdown(&card());
        assert!(
            md.contains("Falco sees a shell \\| in payments/api-7f9c"),
            "{md}"
        );
        assert!(
            md.contains("| 4m 05s | team | acknowledged<br>by alice |"),
            "{md}"
        );
    }

    #[test]
    fn markdown_gives_times_clock_and_evidence_order() {
        let md = markdown(&card());
        assert!(md.contains("- Started: 2025-05-01T10:00:00Z\n"), "{md}");
        assert!(md.contains("- Ended: 2025-05-01T10:45:00Z\n"), "{md}");
        assert!(md.contains("- Clock: ×1\n"), "{md}");
        assert!(
            md.contains("- Evidence captured before anything destructive: no\n"),
            "{md}"
        );
    }

    #[test]
    fn markdown_says_running_and_manual_clock_for_an_unfinished_manual_run() {
        let mut c = card();
        c.ended_at = None;
        c.state = RunState::Running;
        c.speed = 0;
        let md = markdown(&c);
        assert!(md.contains("- Ended: running\n"), "{md}");
        assert!(md.contains("- Clock: manual clock\n"), "{md}");
    }

    #[test]
    fn markdown_lists_waits_flags_and_previous_runs() {
        let md = markdown(&card());
        assert!(
            md.contains("| r-7 | quarantine pod payments/api-7f9c | 1m 30s |"),
            "{md}"
        );
        assert!(
            md.contains("- 10m 00s — attacker moved laterally: moved to checkout/web-5d8b\n"),
            "{md}"
        );
        assert!(
            md.contains("| 2025-05-01T09:00:00Z | 3m 10s (met) | not reached (missed) | — | — |"),
            "{md}"
        );
    }

    #[test]
    fn every_timeline_mark_is_one_svg_mark() {
        let c = card();
        let chart = svg(&c);
        assert_eq!(chart.matches("class=\"mark\"").count(), c.timeline.len());
        assert_eq!(chart.matches("data-who=\"attacker\"").count(), 2);
        assert_eq!(chart.matches("data-who=\"warroom\"").count(), 1);
        assert_eq!(chart.matches("data-who=\"team\"").count(), 2);
    }

    #[test]
    fn an_empty_timeline_has_no_svg_marks() {
        let mut c = card();
        c.timeline.clear();
        assert_eq!(svg(&c).matches("class=\"mark\"").count(), 0);
    }

    #[test]
    fn svg_escapes_text_for_xml() {
        let chart = svg(&card());
        assert!(
            chart.contains("page &lt;sent&gt; &amp; &apos;acknowledged&apos;"),
            "{chart}"
        );
        assert!(!chart.contains("<sent>"));
        assert_eq!(xml("a\"b\u{1}"), "a&quot;b\u{FFFD}");
    }

    #[test]
    fn svg_is_one_self_contained_svg_element() {
        let chart = svg(&card());
        assert!(chart.starts_with("<svg "));
        assert!(chart.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
        assert!(chart.contains(r#"viewBox="0 0 960 250""#));
        assert!(chart.ends_with("</svg>\n"));
        assert!(!chart.contains("<script"));
        assert!(!chart.contains("href"));
    }

    #[test]
    fn each_target_is_one_dashed_line() {
        let chart = svg(&card());
        assert_eq!(chart.matches("class=\"target\"").count(), 3);
        assert_eq!(chart.matches("stroke-dasharray").count(), 3);
    }

    #[test]
    fn svg_axis_runs_to_the_latest_target() {
        // Latest target 15m is past the last mark (11m 40s).
        let chart = svg(&card());
        assert!(chart.contains(">15m 00s</text>"), "{chart}");
        assert!(!chart.contains(">20m 00s</text>"), "{chart}");
    }

    #[test]
    fn svg_output_is_deterministic() {
        let c = card();
        assert_eq!(svg(&c), svg(&c));
    }
}
