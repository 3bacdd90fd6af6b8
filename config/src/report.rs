//! Collects problems while a plan is checked, placing each one in the source file.

use std::collections::{BTreeSet, HashMap, HashSet};

use toml::Spanned;
use toml::de::DeTable;

use crate::locate::{FieldPath, LineIndex, Seg, offset_of, path_at};
use crate::problem::{Problem, split_hint};

pub(crate) struct Report<'t> {
    file: String,
    lines: LineIndex<'t>,
    root: &'t Spanned<DeTable<'t>>,
    problems: Vec<Problem>,
    locations: HashSet<(usize, usize)>,
    secrets: Vec<String>,
    incomplete: BTreeSet<String>,
    source_index: HashMap<String, Vec<usize>>,
}

impl<'t> Report<'t> {
    pub(crate) fn new(file: &str, text: &'t str, root: &'t Spanned<DeTable<'t>>) -> Self {
        Self {
            file: file.to_owned(),
            lines: LineIndex::new(text),
            root,
            problems: Vec::new(),
            locations: HashSet::new(),
            secrets: Vec::new(),
            incomplete: BTreeSet::new(),
            source_index: HashMap::new(),
        }
    }

    pub(crate) fn root(&self) -> &'t Spanned<DeTable<'t>> {
        self.root
    }

    /// A problem at a byte offset in the source.
    pub(crate) fn at_offset(
        &mut self,
        offset: usize,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let (line, column) = self.lines.line_col(offset);
        self.locations.insert((line, column));
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            column,
            path: path.to_string(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    /// A problem found on the typed plan; element indexes are those of the typed lists.
    pub(crate) fn at(
        &mut self,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let path = self.to_source_path(path);
        let offset = offset_of(self.root, &path);
        self.at_offset(offset, &path, message, hint);
    }

    /// A deserialization error. Dropped when another problem already sits at the same place,
    /// since it would only restate it (e.g. a refused inline secret).
    pub(crate) fn serde_error(&mut self, err: &toml::de::Error, fallback_offset: usize) {
        let offset = err.span().map_or(fallback_offset, |s| s.start);
        if self.locations.contains(&self.lines.line_col(offset)) {
            return;
        }
        let path = path_at(self.root, offset);
        let (message, hint) = explain(err.message());
        self.at_offset(offset, &path, message, hint);
    }

    /// Remembers a secret found in the plan so no message repeats it.
    pub(crate) fn secret_seen(&mut self, value: &str) {
        self.secrets.push(value.to_owned());
    }

    /// A section some element of which could not be read: checks that need the whole list
    /// (undefined references, quorum) skip it rather than report follow-on errors.
    pub(crate) fn mark_incomplete(&mut self, section: &str) {
        self.incomplete.insert(section.to_owned());
    }

    pub(crate) fn is_complete(&self, section: &str) -> bool {
        !self.incomplete.contains(section)
    }

    /// Records where each typed element of a list came from in the file.
    pub(crate) fn set_source_index(&mut self, list: &FieldPath, indexes: Vec<usize>) {
        self.source_index.insert(list.to_string(), indexes);
    }

    fn to_source_path(&self, path: &FieldPath) -> FieldPath {
        let mut out = path.clone();
        for (i, seg) in path.0.iter().enumerate() {
            match seg {
                Seg::Key(_) => continue,
                Seg::Index(n) => {
                    let list = FieldPath(path.0[..i].to_vec()).to_string();
                    if let Some(&source) = self.source_index.get(&list).and_then(|m| m.get(*n)) {
                        out.0[i] = Seg::Index(source);
                    }
                    return out;
                }
            }
        }
        out
    }

    /// All problems in file order, or `Ok` when there are none.
    pub(crate) fn finish(self) -> Result<(), Vec<Problem>> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let mut problems = self.problems;
        for p in &mut problems {
            for secret in &self.secrets {
                p.message = p.message.replace(secret.as_str(), &redact(secret));
            }
        }
        problems.sort_by_key(|p| (p.line, p.column));
        Err(problems)
    }
}

/// The first four characters and an ellipsis: enough to find it, not enough to use it.
pub(crate) fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…")
}

/// Splits serde's messages into message and hint, adding a hint for the common cases.
fn explain(raw: &str) -> (String, String) {
    let (message, hint) = split_hint(raw);
    if let Some(hint) = hint {
        return (message.to_owned(), hint.to_owned());
    }
    let message = message.trim();
    if message.starts_with("unknown field") {
        if let Some((head, expected)) = message.split_once(", expected ") {
            let expected = expected.trim_start_matches("one of ");
            return (
                head.to_owned(),
                format!("check the spelling; valid fields: {expected}"),
            );
        }
        return (
            message.to_owned(),
            "this section takes no fields".to_owned(),
        );
    }
    if message.starts_with("unknown variant")
        && let Some((head, expected)) = message.split_once(", expected ")
    {
        let expected = expected.trim_start_matches("one of ");
        return (
            head.replacen("unknown variant", "unknown value", 1),
            format!("use one of {expected}"),
        );
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return (
            message.to_owned(),
            format!("add {} = ...; it is required", field.trim_matches('`')),
        );
    }
    let hint = if message.starts_with("invalid type") {
        if message.ends_with("expected u32")
            || message.ends_with("expected u16")
            || message.ends_with("expected u64")
        {
            "write a whole number without quotes, e.g. 2"
        } else if message.ends_with("expected a boolean") {
            "write true or false without quotes"
        } else if message.ends_with("expected a sequence") {
            "write a list, e.g. [\"a\", \"b\"]"
        } else if message.ends_with("expected a string") {
            "put the value in double quotes"
        } else {
            ""
        }
    } else {
        ""
    };
    (message.to_owned(), hint.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keeps_four_characters() {
        assert_eq!(redact("xoxb-1234-secret"), "xoxb…");
    }

    #[test]
    fn unknown_field_lists_valid_fields_in_the_hint() {
        let (message, hint) = explain("unknown field `slak`, expected one of `id`, `slack`");
        assert_eq!(message, "unknown field `slak`");
        assert_eq!(hint, "check the spelling; valid fields: `id`, `slack`");
    }

    #[test]
    fn invalid_number_suggests_a_bare_number() {
        let (_, hint) = explain("invalid type: string \"two\", expected u32");
        assert!(hint.contains("whole number"));
    }
}
