//! Splitting a command line into words, the way a shell would, but forgiving of chat clients.

/// One word of a command line and where its text started in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Byte offset of the word's first character (its opening quote, if quoted).
    pub start: usize,
    /// Some of it was quoted: `"--x"` is text, not an option.
    pub quoted: bool,
}

/// Why a line could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unclosed quote {quote} that starts at character {position}; close it or remove it")]
pub struct LexError {
    pub quote: char,
    pub position: usize,
}

/// Chat clients turn straight quotes into typographic ones; treat both alike.
fn closing_quote(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '\'' => Some('\''),
        '\u{201C}' | '\u{201D}' => Some('\u{201D}'),
        '\u{2018}' | '\u{2019}' => Some('\u{2019}'),
        _ => None,
    }
}

fn closes(open: char, c: char) -> bool {
    match open {
        '\u{201C}' | '\u{201D}' => c == '\u{201D}' || c == '\u{201C}',
        '\u{2018}' | '\u{2019}' => c == '\u{2019}' || c == '\u{2018}',
        _ => closing_quote(open) == Some(c),
    }
}

/// A single quote (straight or typographic), which is also the apostrophe people type.
fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}')
}

/// Split on whitespace; quotes group words and are removed; a backslash escapes the next
/// character inside double quotes and outside quotes. A single quote inside a word, or one
/// that nothing later in the line closes, is an apostrophe and kept: `note don't restart it`
/// is three words of text, not an unclosed quote.
pub fn words(line: &str) -> Result<Vec<Word>, LexError> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let mut quoted = false;
        while let Some(&(pos, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            let apostrophe = is_single_quote(c)
                && (!text.is_empty() || !chars.clone().any(|(_, q)| closes(c, q)));
            if closing_quote(c).is_some() && !apostrophe {
                quoted = true;
                let mut closed = false;
                while let Some((_, q)) = chars.next() {
                    if closes(c, q) {
                        closed = true;
                        break;
                    }
                    if q == '\\' && c == '"' {
                        if let Some((_, escaped)) = chars.next() {
                            text.push(escaped);
                        }
                        continue;
                    }
                    text.push(q);
                }
                if !closed {
                    return Err(LexError {
                        quote: c,
                        position: line[..pos].chars().count() + 1,
                    });
                }
            } else if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    text.push(escaped);
                }
            } else {
                text.push(c);
            }
        }
        out.push(Word {
            text,
            start,
            quoted,
        });
    }
    Ok(out)
}

/// `text` written as one word that [`words`] reads back exactly: as it is when nothing in it
/// is special, else in double quotes with `\` and `"` escaped. A leading `-` is quoted too,
/// so a value is never read as an option.
pub fn as_word(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with('-')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == '\\' || closing_quote(c).is_some());
    if plain {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Free text as typed, with one pair of surrounding quotes removed if they enclose it all.
pub fn free_text(raw: &str) -> String {
    let t = raw.trim();
    let mut cs = t.chars();
    if let (Some(first), Some(last)) = (cs.next(), t.chars().last())
        && t.chars().count() >= 2
        && closing_quote(first).is_some()
        && closes(first, last)
    {
        let inner = &t[first.len_utf8()..t.len() - last.len_utf8()];
        // Only when the quotes pair up: `"a" and "b"` stays as typed.
        if !inner.contains(first) && !inner.contains(last) {
            return inner.to_string();
        }
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        words(line).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn quotes_group_words_including_typographic_ones() {
        assert_eq!(
            texts(r#"incident open "Shell in api" --severity sev1"#),
            ["incident", "open", "Shell in api", "--severity", "sev1"]
        );
        assert_eq!(
            texts("note \u{201C}it's fine\u{201D}"),
            ["note", "it's fine"]
        );
        assert_eq!(texts(r#"a\ b "c\"d""#), ["a b", "c\"d"]);
    }

    #[test]
    fn apostrophes_are_text_not_quotes() {
        assert_eq!(
            texts("note don't restart it, it's evidence"),
            ["note", "don't", "restart", "it,", "it's", "evidence"]
        );
        // As iOS and macOS type them.
        assert_eq!(
            texts("deny R1 can\u{2019}t verify"),
            ["deny", "R1", "can\u{2019}t", "verify"]
        );
        // Opening a word with nothing to close it: kept too.
        assert_eq!(
            texts("note 'cause it died"),
            ["note", "'cause", "it", "died"]
        );
        // Quoting with single quotes still works.
        assert_eq!(
            texts("incident open 'Shell in api'"),
            ["incident", "open", "Shell in api"]
        );
    }

    #[test]
    fn any_text_written_as_a_word_reads_back_as_itself() {
        for text in [
            "plain",
            "two words",
            "ends in \\",
            "say \"hi\"",
            "it's",
            "'",
            "\"",
            "--force",
            "-",
            "",
            "\u{201C}smart\u{201D} quotes",
            "tab\there",
        ] {
            let word = as_word(text);
            let read = words(&format!("note {word}")).unwrap();
            assert_eq!(read.len(), 2, "{text:?} as {word}");
            assert_eq!(read[1].text, text, "{text:?} as {word}");
            assert!(!read[1].text.starts_with('-') || read[1].quoted, "{word}");
        }
    }

    #[test]
    fn an_unclosed_quote_says_where_it_starts() {
        let err = words(r#"note "oops"#).unwrap_err();
        assert_eq!(err.position, 6);
        assert!(err.to_string().contains("unclosed quote"));
    }

    #[test]
    fn free_text_strips_one_enclosing_pair_only() {
        assert_eq!(free_text(r#"  "hello there" "#), "hello there");
        assert_eq!(free_text(r#""a" and "b""#), r#""a" and "b""#);
        assert_eq!(free_text("plain words"), "plain words");
        assert_eq!(free_text("\""), "\"");
    }
}
