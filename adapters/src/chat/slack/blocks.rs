//! Block Kit layout for our messages and approval cards, within Slack's limits.
//!
//! Slack rejects a whole message (`invalid_blocks`) when one block is over a limit, so long
//! content is cut here, with a note that the timeline has all of it. Text from outside
//! (alerts, pod names) is escaped so that it cannot format itself into a `<!channel>`
//! mention or a disguised link.

use serde_json::{Value, json};

use super::buttons::{
    APPROVAL_BLOCK_ID, APPROVE_ACTION_ID, DENY_ACTION_ID, MAX_VALUE_CHARS, button_value,
};
use crate::chat::ApprovalCard;

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_HEADER_CHARS: usize = 150;
/// Slack accepts up to 40,000 characters of fallback text but shows notifications far
/// shorter; we keep it to this.
pub const MAX_FALLBACK_CHARS: usize = 4000;
pub const TRUNCATION_NOTE: &str = "… (truncated; full text in the timeline)";

/// Plain text as mrkdwn sections, split at line breaks where possible.
pub fn text_blocks(text: &str) -> Vec<Value> {
    sections(text, MAX_BLOCKS)
}

/// The card: a header with the title, the lines, a status line and, while the request is
/// open, the people who may approve (`mentions`, as `<@U…>`: Slack notifies them) and
/// Approve and Deny buttons.
pub fn approval_blocks(card: &ApprovalCard, mentions: &[String]) -> Vec<Value> {
    let mut blocks = Vec::new();
    let title = if card.title.trim().is_empty() {
        format!("Approval request {}", card.request)
    } else {
        card.title.clone()
    };
    blocks.push(json!({
        "type": "header",
        "text": { "type": "plain_text", "text": cut_plain(&title, MAX_HEADER_CHARS), "emoji": true },
    }));

    let value = button_value(&card.incident, &card.request);
    let buttons = card.open && units(&value) <= MAX_VALUE_CHARS;
    // Header, status context and (when open) the buttons take the rest of the budget.
    let reserved = blocks.len() + 1 + usize::from(buttons);
    let body = card.lines.join("\n");
    if !body.trim().is_empty() {
        blocks.extend(sections(&body, MAX_BLOCKS - reserved));
    }

    let mut context = vec![
        mrkdwn(&format!("*Status:* {}", escape_within(&card.status, 200).0)),
        mrkdwn(&format!(
            "Request `{}` · {}",
            escape_within(&card.request, 200).0,
            card.incident.as_str()
        )),
    ];
    if card.open && !mentions.is_empty() {
        context.push(mrkdwn(&format!("*Can approve:* {}", mentions.join(" "))));
    }
    if card.open && !buttons {
        // Not expected (our ids are short), but the request can still be decided by command.
        context.push(mrkdwn(
            "Buttons unavailable for this request: use the approve/deny commands.",
        ));
    }
    blocks.push(json!({ "type": "context", "elements": context }));

    if buttons {
        blocks.push(json!({
            "type": "actions",
            "block_id": APPROVAL_BLOCK_ID,
            "elements": [
                {
                    "type": "button",
                    "text": { "type": "plain_text", "text": "Approve", "emoji": true },
                    "style": "primary",
                    "action_id": APPROVE_ACTION_ID,
                    "value": value,
                    // A second tap, so a phone in a pocket does not approve a containment.
                    "confirm": {
                        "title": { "type": "plain_text", "text": "Approve this request?" },
                        "text": { "type": "plain_text", "text": cut_plain(&title, 300) },
                        "confirm": { "type": "plain_text", "text": "Approve" },
                        "deny": { "type": "plain_text", "text": "Cancel" },
                    },
                },
                {
                    "type": "button",
                    "text": { "type": "plain_text", "text": "Deny", "emoji": true },
                    "style": "danger",
                    "action_id": DENY_ACTION_ID,
                    "value": value,
                },
            ],
        }));
    }
    blocks
}

/// The `text` that goes with blocks: shown in notifications and by clients without blocks.
pub fn fallback_text(text: &str) -> String {
    let (mut out, cut) = escape_within(text, MAX_FALLBACK_CHARS);
    if cut {
        out = with_note(out, MAX_FALLBACK_CHARS, true);
    }
    if out.trim().is_empty() {
        out = EMPTY.to_owned();
    }
    out
}

const EMPTY: &str = "(empty message)";

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": text })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": mrkdwn(text) })
}

/// At most `max` sections of at most [`MAX_SECTION_CHARS`] each; a note ends the last one
/// when the text did not fit.
fn sections(text: &str, max: usize) -> Vec<Value> {
    let max = max.max(1);
    let mut chunks = chunks(text, MAX_SECTION_CHARS);
    if chunks.is_empty() {
        return vec![section(&format!("_{EMPTY}_"))];
    }
    if chunks.len() > max {
        chunks.truncate(max);
        if let Some(last) = chunks.pop() {
            chunks.push(with_note(last, MAX_SECTION_CHARS, true));
        }
    }
    chunks.iter().map(|c| section(c)).collect()
}

/// Escaped text in pieces of at most `limit`, breaking after a line where possible and
/// never inside an escape.
fn chunks(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    let mut flush = |current: &mut String, used: &mut usize| {
        let piece = current.trim_end();
        if !piece.trim().is_empty() {
            out.push(piece.to_owned());
        }
        current.clear();
        *used = 0;
    };
    for line in text.split_inclusive('\n') {
        let escaped = escape_within(line, usize::MAX).0;
        let n = units(&escaped);
        if used + n > limit {
            flush(&mut current, &mut used);
        }
        if n <= limit {
            current.push_str(&escaped);
            used += n;
            continue;
        }
        // One line longer than a whole section: split it between characters.
        for c in line.chars() {
            let e = escape_char(c);
            let k = e.encode_utf16().count();
            if used + k > limit {
                flush(&mut current, &mut used);
            }
            current.push_str(&e);
            used += k;
        }
    }
    flush(&mut current, &mut used);
    out
}

/// `text` cut so that it plus the note fits in `limit`, then the note.
fn with_note(mut text: String, limit: usize, escaped: bool) -> String {
    let room = limit.saturating_sub(units(TRUNCATION_NOTE) + 1);
    while units(&text) > room {
        text.pop();
    }
    // Do not leave half an escape (`&am`) behind: every `&` in escaped text starts one.
    if let Some(amp) = text.rfind('&').filter(|_| escaped)
        && !text[amp..].contains(';')
    {
        text.truncate(amp);
    }
    let mut text = text.trim_end().to_owned();
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(TRUNCATION_NOTE);
    text
}

/// Plain text (not parsed by Slack, so not escaped) cut to `limit` with the note.
fn cut_plain(text: &str, limit: usize) -> String {
    if units(text) <= limit {
        return text.to_owned();
    }
    with_note(text.to_owned(), limit, false)
}

/// Escapes `& < >` as Slack requires, stopping before `limit` would be passed.
/// Returns whether anything was left out.
fn escape_within(text: &str, limit: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len().min(limit));
    let mut used = 0usize;
    for c in text.chars() {
        let e = escape_char(c);
        let k = e.encode_utf16().count();
        if used.saturating_add(k) > limit {
            return (out, true);
        }
        out.push_str(&e);
        used += k;
    }
    (out, false)
}

fn escape_char(c: char) -> std::borrow::Cow<'static, str> {
    match c {
        '&' => "&amp;".into(),
        '<' => "&lt;".into(),
        '>' => "&gt;".into(),
        other => other.to_string().into(),
    }
}

/// Length as Slack may count it: UTF-16 code units, which is never less than characters,
/// so text within this count is within the limit either way.
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(open: bool) -> ApprovalCard {
        ApprovalCard {
            incident: "INC-20261127-0001".parse().unwrap(),
            request: "R1".into(),
            title: "quarantine pod payments/api-7f9c".into(),
            lines: vec![
                "asked by alice: shell in container".into(),
                "NetworkPolicy `warroom-quarantine` deny all".into(),
            ],
            status: "pending".into(),
            open,
            deciders: vec!["bob".into()],
        }
    }

    fn texts(blocks: &[Value]) -> Vec<String> {
        blocks
            .iter()
            .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
            .collect()
    }

    fn assert_within_limits(blocks: &[Value]) {
        assert!(blocks.len() <= MAX_BLOCKS, "{} blocks", blocks.len());
        for b in blocks {
            let text = b["text"]["text"].as_str().unwrap_or("");
            match b["type"].as_str() {
                Some("header") => assert!(units(text) <= MAX_HEADER_CHARS),
                Some("section") => {
                    assert!(units(text) <= MAX_SECTION_CHARS && !text.trim().is_empty())
                }
                _ => {}
            }
        }
    }

    #[test]
    fn an_open_card_has_the_title_lines_status_and_both_buttons() {
        let blocks = approval_blocks(&card(true), &[]);
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(
            blocks[0]["text"]["text"],
            "quarantine pod payments/api-7f9c"
        );
        assert_eq!(
            blocks[1]["text"]["text"],
            "asked by alice: shell in container\nNetworkPolicy `warroom-quarantine` deny all"
        );
        assert_eq!(blocks[2]["elements"][0]["text"], "*Status:* pending");
        let actions = &blocks[3];
        assert_eq!(actions["type"], "actions");
        let approve = &actions["elements"][0];
        let deny = &actions["elements"][1];
        assert_eq!(approve["action_id"], "warroom_approve");
        assert_eq!(approve["style"], "primary");
        assert_eq!(approve["value"], "INC-20261127-0001/R1");
        assert_eq!(deny["action_id"], "warroom_deny");
        assert_eq!(deny["style"], "danger");
        assert_eq!(deny["value"], "INC-20261127-0001/R1");
        assert_within_limits(&blocks);
    }

    #[test]
    fn a_closed_card_has_no_buttons() {
        let mut c = card(false);
        c.status = "approved by bob".into();
        let blocks = approval_blocks(&c, &[]);
        assert!(blocks.iter().all(|b| b["type"] != "actions"));
        assert!(
            blocks
                .iter()
                .any(|b| b["elements"][0]["text"] == "*Status:* approved by bob")
        );
    }

    #[test]
    fn long_titles_lines_and_many_lines_are_cut_with_a_note() {
        let mut c = card(true);
        c.title = "t".repeat(400);
        c.lines = (0..400)
            .map(|i| format!("{i}: {}", "x".repeat(900)))
            .collect();
        let blocks = approval_blocks(&c, &[]);
        assert_within_limits(&blocks);
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert!(texts(&blocks)[0].ends_with(TRUNCATION_NOTE));
        let last_section = blocks
            .iter()
            .rev()
            .find(|b| b["type"] == "section")
            .unwrap();
        assert!(
            last_section["text"]["text"]
                .as_str()
                .unwrap()
                .ends_with(TRUNCATION_NOTE)
        );
        // The buttons survive any amount of content.
        assert_eq!(blocks.last().unwrap()["type"], "actions");
    }

    #[test]
    fn outside_text_cannot_mention_everyone_or_fake_links() {
        let blocks = text_blocks("<!channel> see <http://evil|docs> & more");
        assert_eq!(
            texts(&blocks),
            ["&lt;!channel&gt; see &lt;http://evil|docs&gt; &amp; more"]
        );
        assert_eq!(fallback_text("<@U1>"), "&lt;@U1&gt;");
    }

    #[test]
    fn text_is_split_at_lines_and_long_lines_between_characters() {
        let line = "a".repeat(2000);
        let text = format!("{line}\n{line}\n{}", "é".repeat(7000));
        let blocks = text_blocks(&text);
        assert_within_limits(&blocks);
        let t = texts(&blocks);
        assert_eq!(t[0], line);
        assert_eq!(t[1], line);
        assert_eq!(t[2].chars().count(), 3000);
        assert_eq!(t.concat().chars().count(), 4000 + 7000);

        // Escapes are never split, even at the boundary.
        let amps = "&".repeat(3001);
        for t in texts(&text_blocks(&amps)) {
            assert!(t.ends_with(';') && units(&t) <= MAX_SECTION_CHARS);
        }
        // Characters outside the basic plane count double, as Slack may count them.
        let emoji = "🚨".repeat(2000);
        assert_within_limits(&text_blocks(&emoji));
    }

    #[test]
    fn huge_text_stops_at_fifty_blocks_with_a_note() {
        let text = "y".repeat(MAX_SECTION_CHARS * 60);
        let blocks = text_blocks(&text);
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_within_limits(&blocks);
        assert!(texts(&blocks)[49].ends_with(TRUNCATION_NOTE));
        let ampersands = "&".repeat(MAX_SECTION_CHARS * 60);
        let t = texts(&text_blocks(&ampersands));
        assert!(
            t[49].ends_with(&format!("&amp; {TRUNCATION_NOTE}")),
            "{}",
            &t[49][2900..]
        );
    }

    #[test]
    fn fallback_text_is_bounded_and_never_empty() {
        let f = fallback_text(&"<".repeat(5000));
        assert!(units(&f) <= MAX_FALLBACK_CHARS && f.ends_with(TRUNCATION_NOTE));
        assert!(f.ends_with(&format!("&lt; {TRUNCATION_NOTE}")), "{f}");
        assert_eq!(fallback_text(""), EMPTY);
        assert_eq!(texts(&text_blocks(" \n ")), [format!("_{EMPTY}_")]);
    }

    #[test]
    fn an_open_card_mentions_who_may_approve_and_a_decided_one_does_not() {
        let mentions = ["<@U0BOB>".to_owned(), "<@U0CAROL>".to_owned()];
        let open = Value::from(approval_blocks(&card(true), &mentions)).to_string();
        assert!(
            open.contains("*Can approve:* <@U0BOB> <@U0CAROL>"),
            "{open}"
        );
        let closed = Value::from(approval_blocks(&card(false), &mentions)).to_string();
        assert!(!closed.contains("Can approve"), "{closed}");
    }
}
