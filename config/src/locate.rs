//! Maps field paths to byte offsets in the parsed tree, and byte offsets to line:column.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step in a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A field path like `people[2].slack`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(pub(crate) Vec<Seg>);

impl FieldPath {
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Self(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Self(segs)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Line starts of a text, for turning byte offsets into 1-based line and character column.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

/// Whether `offset` falls on the value or anywhere inside it, including tables written with
/// their own `[header]` further down the file.
pub(crate) fn subtree_contains(value: &Spanned<DeValue<'_>>, offset: usize) -> bool {
    if covers(&value.span(), offset) {
        return true;
    }
    match value.get_ref() {
        DeValue::Table(table) => table
            .iter()
            .any(|(k, v)| covers(&k.span(), offset) || subtree_contains(v, offset)),
        DeValue::Array(items) => items.iter().any(|v| subtree_contains(v, offset)),
        _ => false,
    }
}

/// The deepest field path whose key or value covers `offset`.
pub(crate) fn path_at(root: &Spanned<DeTable<'_>>, offset: usize) -> FieldPath {
    let mut path = FieldPath::root();
    let mut table = root.get_ref();
    loop {
        let Some((key, value)) = table
            .iter()
            .find(|(k, v)| covers(&k.span(), offset) || subtree_contains(v, offset))
        else {
            return path;
        };
        path.0.push(Seg::Key(key.get_ref().to_string()));
        if covers(&key.span(), offset) {
            return path;
        }
        let mut node = value;
        while let DeValue::Array(items) = node.get_ref() {
            let Some((i, item)) = items
                .iter()
                .enumerate()
                .find(|(_, v)| subtree_contains(v, offset))
            else {
                return path;
            };
            path.0.push(Seg::Index(i));
            node = item;
        }
        match node.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return path,
        }
    }
}

/// The offset of the deepest node on `path` that exists: the value when found, else the
/// nearest enclosing table, so a missing field points at its table.
pub(crate) fn offset_of(root: &Spanned<DeTable<'_>>, path: &FieldPath) -> usize {
    let mut offset = 0;
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    let mut table = Some(root.get_ref());
    for seg in &path.0 {
        let next = match (seg, current.map(Spanned::get_ref), table) {
            (Seg::Key(k), _, Some(t)) => t.get(k.as_str()),
            (Seg::Index(i), Some(DeValue::Array(items)), _) => items.get(*i),
            _ => None,
        };
        let Some(node) = next else { break };
        offset = node.span().start;
        table = node.get_ref().as_table();
        current = Some(node);
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[plan]\nname = \"x\"\n\n[[people]]\nid = \"a\"\n\n[[people]]\nid = \"b\"\nroles = [\"r1\", \"r2\"]\n\n[actions.delete]\napprovals = 2\n";

    fn parse() -> Spanned<DeTable<'static>> {
        DeTable::parse(DOC).unwrap()
    }

    fn at(path: &FieldPath) -> (usize, usize) {
        LineIndex::new(DOC).line_col(offset_of(&parse(), path))
    }

    #[test]
    fn path_display_uses_dots_and_brackets() {
        let path = FieldPath::root().key("people").index(2).key("slack");
        assert_eq!(path.to_string(), "people[2].slack");
        let quoted = FieldPath::root().key("match").key("app.kubernetes.io/name");
        assert_eq!(quoted.to_string(), "match.\"app.kubernetes.io/name\"");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let index = LineIndex::new("a = \"é\"\nb = 1");
        assert_eq!(index.line_col(0), (1, 1));
        assert_eq!(index.line_col("a = \"é\"".len()), (1, 8));
        assert_eq!(index.line_col("a = \"é\"\nb".len()), (2, 2));
    }

    #[test]
    fn offset_of_finds_values_inside_array_tables() {
        let roles = FieldPath::root()
            .key("people")
            .index(1)
            .key("roles")
            .index(1);
        assert_eq!(at(&roles), (9, 16));
        let approvals = FieldPath::root()
            .key("actions")
            .key("delete")
            .key("approvals");
        assert_eq!(at(&approvals), (12, 13));
    }

    #[test]
    fn offset_of_falls_back_to_the_enclosing_table() {
        let missing = FieldPath::root().key("people").index(0).key("slack");
        assert_eq!(at(&missing), (4, 1));
    }

    #[test]
    fn path_at_finds_the_deepest_field() {
        let root = parse();
        let offset = DOC.find("\"r2\"").unwrap();
        assert_eq!(path_at(&root, offset).to_string(), "people[1].roles[1]");
        let offset = DOC.find("approvals").unwrap();
        assert_eq!(
            path_at(&root, offset).to_string(),
            "actions.delete.approvals"
        );
    }
}
