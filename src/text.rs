//! Input-derived text on a terminal or in a log: paths, state names and class names come
//! from untrusted savepoints, so before they reach a human every control character is
//! escaped (an ESC sequence could retitle or clear the terminal; a CR or LF could forge a
//! line such as "verify: ok").

use std::borrow::Cow;

/// `s` with every control character (C0, DEL, C1) written as an escape: `\n`, `\r`,
/// `\t`, `\e`, or `\u{..}`. Text without any is returned as it is.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x1b' => out.push_str("\\e"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Each line of `s` escaped on its own (for multi-line human output whose line breaks
/// are ours, where only what lies inside a line came from the input).
pub fn escape_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        out.push_str(&escape_controls(body));
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_plain_text_kept() {
        assert!(matches!(escape_controls("plain ü"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\x1b]0;pwned\x07b\r\nverify: ok\u{9b}"),
            "a\\e]0;pwned\\u{7}b\\r\\nverify: ok\\u{9b}"
        );
        assert_eq!(escape_lines("one\x1b[2J\ntwo\n"), "one\\e[2J\ntwo\n");
    }
}
