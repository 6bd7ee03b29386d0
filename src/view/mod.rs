//! Decoded views: state people can read without a Flink in hand. Built on the converted
//! streams and the serializer snapshots of their headers (`modern::decode`); the tree
//! serves them beside the files `_metadata` names, never inside it.

pub mod keyed;

pub use keyed::{KeyedViews, StateView};

/// A file name for a state: its name with `/`, `%`, control characters and a leading
/// `.` written as `%XX` (so every state name gives one distinct, harmless name), then
/// `.jsonl`.
pub fn state_file_name(state: &str) -> String {
    let mut out = String::with_capacity(state.len() + 6);
    for (i, c) in state.chars().enumerate() {
        match c {
            '/' | '%' | '\0'..='\u{1f}' | '\u{7f}' => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            '.' if i == 0 => out.push_str("%2E"),
            c => out.push(c),
        }
    }
    out.push_str(".jsonl");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_become_harmless_distinct_file_names() {
        assert_eq!(state_file_name("state-name"), "state-name.jsonl");
        assert_eq!(state_file_name("a/b%c"), "a%2Fb%25c.jsonl");
        assert_eq!(state_file_name(".."), "%2E..jsonl");
        assert_eq!(state_file_name("x\ny"), "x%0Ay.jsonl");
        assert_eq!(state_file_name(""), ".jsonl");
        assert_ne!(state_file_name("a/b"), state_file_name("a%2Fb"));
    }
}
