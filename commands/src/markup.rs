//! Text from outside (alert titles, chat, pod names) placed into HTML, XML or Markdown that
//! others render: the characters that would start markup, as entities.

/// The entity for `c` when it starts markup or an entity (`&`, `<`, `>`), else `None`.
pub fn entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_characters_that_start_markup_become_entities() {
        let out: String = "<a href=\"x\">&</a>"
            .chars()
            .map(|c| super::entity(c).map_or(c.to_string(), str::to_owned))
            .collect();
        assert_eq!(out, "&lt;a href=\"x\"&gt;&amp;&lt;/a&gt;");
    }
}
