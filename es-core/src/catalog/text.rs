//! Escaping for each rendering, node ids, and docs as HTML.

use std::fmt::Write as _;

/// `kind_` followed by `name` with every byte other than an ASCII letter or digit written as
/// `_` and two lowercase hex digits: `evt_account_2eopened`. Distinct names give distinct ids,
/// and ids are valid in Mermaid, DOT (unquoted) and HTML.
pub(super) fn node_id(kind: &str, name: &str) -> String {
    let mut id = String::with_capacity(kind.len() + 1 + name.len() * 2);
    id.push_str(kind);
    id.push('_');
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() {
            id.push(char::from(byte));
        } else {
            let _ = write!(id, "_{byte:02x}");
        }
    }
    id
}

/// `text` for HTML text and attribute values.
pub(super) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` for a quoted Mermaid label: Mermaid's entity codes for the characters that would
/// end the label or start markup.
pub(super) fn mermaid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` for a quoted DOT string.
pub(super) fn dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` characters, the last an ellipsis when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A doc comment as HTML paragraphs: escaped, a blank line between paragraphs, `code` in
/// backticks as `<code>`, and the brackets of intra-doc links dropped.
pub(super) fn doc_html(doc: &str) -> String {
    let mut out = String::new();
    for paragraph in doc.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.is_empty() {
            continue;
        }
        out.push_str("<p>");
        out.push_str(&inline(paragraph));
        out.push_str("</p>");
    }
    out
}

/// One paragraph's inline markup: code spans, and links' brackets removed.
fn inline(text: &str) -> String {
    let unlinked = text.replace("[`", "`").replace("`]", "`");
    let mut out = String::new();
    for (i, part) in unlinked.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&html(part));
            out.push_str("</code>");
        } else {
            out.push_str(&html(part));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_keep_letters_and_digits_and_encode_the_rest() {
        assert_eq!(
            node_id("evt", "account.opened@1"),
            "evt_account_2eopened_401"
        );
        assert_eq!(node_id("evt", "a:b/c-d_e"), "evt_a_3ab_2fc_2dd_5fe");
        // `_` is encoded too, so a name cannot imitate another's encoding.
        assert_ne!(node_id("evt", "a_2e"), node_id("evt", "a."));
    }

    #[test]
    fn escapes_end_no_string_early() {
        assert_eq!(
            html(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            mermaid(r#"say "hi" #1 <b>"#),
            "say #quot;hi#quot; #35;1 #lt;b#gt;"
        );
        assert_eq!(dot("a \"b\" \\ c\nd"), "a \\\"b\\\" \\\\ c\\nd");
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn docs_become_paragraphs_with_code() {
        assert_eq!(
            doc_html("Uses [`Deposit`] <now>.\n\nSecond `a<b`."),
            "<p>Uses <code>Deposit</code> &lt;now&gt;.</p><p>Second <code>a&lt;b</code>.</p>"
        );
    }
}
