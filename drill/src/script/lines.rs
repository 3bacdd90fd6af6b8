//! Where things are in a scenario's text, so script errors can name a line: serde_yaml's
//! values carry no positions, so the block structure is read again from the text.

/// The lines of a document, with the 1-based number of its first line.
pub(crate) struct DocLines<'a> {
    lines: Vec<&'a str>,
    first: usize,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn item(line: &str) -> bool {
    let t = line.trim_start();
    t == "-" || t.starts_with("- ")
}

impl<'a> DocLines<'a> {
    pub fn new(text: &'a str, first: usize) -> DocLines<'a> {
        DocLines {
            lines: text.lines().collect(),
            first,
        }
    }

    /// The file line of the document's `index`th line (0-based).
    pub fn number(&self, index: usize) -> usize {
        self.first + index
    }

    /// The index of the first line in `from..to` that holds `key:` at the start.
    pub fn key(&self, key: &str, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.lines.len());
        (from..to).find(|&i| {
            let t = self.lines[i].trim_start().trim_start_matches("- ");
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    }

    /// The indexes of the block list items under the key at `key_index`, up to `to`. Empty for
    /// a flow list (`[...]`): callers then fall back to the key's line.
    pub fn items(&self, key_index: usize, to: usize) -> Vec<usize> {
        let to = to.min(self.lines.len());
        let key_indent = indent(self.lines[key_index].trim_start_matches("- "));
        let mut found = Vec::new();
        let mut item_indent = None;
        for i in key_index + 1..to {
            let line = self.lines[i];
            if blank(line) {
                continue;
            }
            let ind = indent(line);
            match item_indent {
                None if item(line) && ind >= key_indent.min(indent(self.lines[key_index])) => {
                    item_indent = Some(ind);
                    found.push(i);
                }
                None => break,
                Some(at) if ind == at && item(line) => found.push(i),
                Some(at) if ind <= at => break,
                Some(_) => {}
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }
}

/// Each document of a multi-document YAML text: its text and its first line (1-based).
pub(crate) fn documents(text: &str) -> Vec<(String, usize)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut first = 1;
    for (i, line) in text.lines().enumerate() {
        let separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if separator {
            docs.push((std::mem::take(&mut current), first));
            first = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    docs.push((current, first));
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "kind: GameDay\nscript:\n  # first\n  - at: 0s\n    say: hi\n  - at: 10m\n    unless: quarantine pod a/b\n    then:\n    - lateral: {from: a/b, to: c/d}\n    - lost: gone\nend: 45m\n";

    #[test]
    fn script_items_and_their_then_lists_are_found_by_line() {
        let d = DocLines::new(DOC, 20);
        let script = d.key("script", 0, d.len()).unwrap();
        let items = d.items(script, d.len());
        assert_eq!(
            items.iter().map(|&i| d.number(i)).collect::<Vec<_>>(),
            [23, 25]
        );
        let then = d.key("then", items[1], d.len()).unwrap();
        let inner = d.items(then, d.len());
        assert_eq!(
            inner.iter().map(|&i| d.number(i)).collect::<Vec<_>>(),
            [28, 29]
        );
        assert_eq!(
            d.key("unless", items[1], d.len()).map(|i| d.number(i)),
            Some(26)
        );
    }

    #[test]
    fn items_at_the_same_indent_as_their_key_are_found() {
        let d = DocLines::new("script:\n- at: 0s\n- at: 1m\nend: 5m\n", 1);
        assert_eq!(d.items(0, d.len()), [1, 2]);
    }

    #[test]
    fn documents_know_their_first_line() {
        let docs = documents("# c\n---\na: 1\n---\nb: 2\n");
        assert_eq!(docs[1], ("a: 1\n".to_string(), 3));
        assert_eq!(docs[2], ("b: 2\n".to_string(), 5));
    }
}
