//! External state locations. Flink 1.1 stores them as `core.fs.Path` (whose only field is
//! a `java.net.URI`) or as a bare `URI`; in the stream a URI is just its string form. We
//! split that string the way `java.net.URI` does (RFC 2396) and render it the way Flink's
//! `Path.toString()` does (legacy-formats.md §2.5), because the V1 writer uses that rendering.
//! Paths come from untrusted input: nothing here touches the file system (sizes are
//! asked of a [`Measure`], which the caller's path policy implements).

use std::path::PathBuf;

/// A decoded external location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalPath {
    /// The URI's string form exactly as stored.
    pub uri: String,
    pub scheme: Option<String>,
    /// Percent-decoded authority (`host:port`), absent for `file:///x` and `file:/x`.
    pub authority: Option<String>,
    /// Percent-decoded path; absent for opaque URIs like `mailto:x`.
    pub path: Option<String>,
    /// Flink's `Path.toString()`: scheme ":" ["//" authority] path, escapes decoded.
    pub display: String,
    /// The local file for `file:` URIs without a remote host; other schemes stay URIs
    /// (a `--map PREFIX=DIR` option rewrites them later).
    pub local: Option<PathBuf>,
}

impl ExternalPath {
    /// Splits a URI string as `java.net.URI` does. Malformed percent escapes are errors:
    /// Java's `URI.readObject` rejects them, so Flink could not read such a savepoint.
    pub fn parse(uri: &str) -> Result<ExternalPath, String> {
        let before_fragment = uri.split('#').next().unwrap_or("");
        let (scheme, rest) = split_scheme(before_fragment)?;
        let (authority, path) = if scheme.is_some() && !rest.starts_with('/') {
            // Opaque URI: no authority, no path.
            (None, None)
        } else {
            let rest = rest.split('?').next().unwrap_or("");
            match rest.strip_prefix("//") {
                Some(after) => {
                    let end = after.find('/').unwrap_or(after.len());
                    let auth = &after[..end];
                    let auth = (!auth.is_empty()).then(|| decode(auth)).transpose()?;
                    (auth, Some(decode(&after[end..])?))
                }
                None => (None, Some(decode(rest)?)),
            }
        };
        let mut display = String::new();
        if let Some(s) = &scheme {
            display.push_str(s);
            display.push(':');
        }
        if let Some(a) = &authority {
            display.push_str("//");
            display.push_str(a);
        }
        if let Some(p) = &path {
            let drive = p.len() >= 3
                && p.as_bytes()[0] == b'/'
                && p.as_bytes()[1].is_ascii_alphabetic()
                && p.as_bytes()[2] == b':';
            if drive && scheme.is_none() && authority.is_none() {
                display.push_str(&p[1..]);
            } else {
                display.push_str(p);
            }
        }
        let is_file = scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("file"));
        let local_host = authority
            .as_deref()
            .is_none_or(|a| a.eq_ignore_ascii_case("localhost"));
        let local = match &path {
            Some(p) if is_file && local_host && p.starts_with('/') => Some(PathBuf::from(p)),
            _ => None,
        };
        Ok(ExternalPath {
            uri: uri.to_string(),
            scheme,
            authority,
            path,
            display,
            local,
        })
    }
}

/// `scheme ":" rest` when the text before the first `:` is a valid scheme and comes
/// before any `/`, `?` or `#`; otherwise a relative reference.
/// How the Flink 1.1 model learns the size of external state, which Flink 1.1 counted in
/// its `stateSize` (legacy-formats.md §2.6). The model never touches the file system itself:
/// the caller's policy decides what may be looked at (`convert::ExternalPolicy`).
pub trait Measure {
    /// A file's length; `None` when it cannot or may not be looked at.
    fn file_size(&self, path: &ExternalPath) -> Option<u64>;
    /// The total size of the files under a directory (a RocksDB backup), bounded.
    fn tree_size(&self, path: &ExternalPath) -> Option<u64>;
}

/// Looks at nothing: every external size is unknown.
pub struct Unmeasured;

impl Measure for Unmeasured {
    fn file_size(&self, _: &ExternalPath) -> Option<u64> {
        None
    }
    fn tree_size(&self, _: &ExternalPath) -> Option<u64> {
        None
    }
}

fn split_scheme(s: &str) -> Result<(Option<String>, &str), String> {
    let Some(colon) = s.find(':') else {
        return Ok((None, s));
    };
    let head = &s[..colon];
    if head.contains(['/', '?', '#']) {
        return Ok((None, s));
    }
    let mut chars = head.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return Err(format!("invalid scheme {head:?}"));
    }
    Ok((Some(head.to_string()), &s[colon + 1..]))
}

/// Percent-decoding as `java.net.URI` does: escapes are UTF-8 bytes, invalid UTF-8
/// becomes U+FFFD.
fn decode(s: &str) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("malformed percent escape at character {i}"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_local_paths_rendered_like_flink() {
        let p = ExternalPath::parse("file:/tmp/chk-10/a%20b").unwrap();
        assert_eq!(p.scheme.as_deref(), Some("file"));
        assert_eq!(p.authority, None);
        assert_eq!(p.display, "file:/tmp/chk-10/a b");
        assert_eq!(
            p.local.as_deref(),
            Some(std::path::Path::new("/tmp/chk-10/a b"))
        );
        let p = ExternalPath::parse("file:///data/x").unwrap();
        assert_eq!(p.authority, None, "an empty authority is no authority");
        assert_eq!(p.display, "file:/data/x");
        assert_eq!(p.local.as_deref(), Some(std::path::Path::new("/data/x")));
    }

    #[test]
    fn other_schemes_stay_uris() {
        let p = ExternalPath::parse("hdfs://nn:8020/flink/chk-3/f?q=1#frag").unwrap();
        assert_eq!(p.authority.as_deref(), Some("nn:8020"));
        assert_eq!(p.path.as_deref(), Some("/flink/chk-3/f"));
        assert_eq!(p.display, "hdfs://nn:8020/flink/chk-3/f");
        assert_eq!(p.local, None);
        assert_eq!(p.uri, "hdfs://nn:8020/flink/chk-3/f?q=1#frag");
        let remote_file = ExternalPath::parse("file://host/x").unwrap();
        assert_eq!(remote_file.local, None);
        assert_eq!(remote_file.display, "file://host/x");
    }

    #[test]
    fn relative_opaque_and_windows_forms() {
        let p = ExternalPath::parse("/C:/data/x").unwrap();
        assert_eq!(
            p.display, "C:/data/x",
            "Flink drops the slash before a drive"
        );
        let p = ExternalPath::parse("rel/a%2Fb").unwrap();
        assert_eq!(p.display, "rel/a/b");
        let p = ExternalPath::parse("mailto:someone").unwrap();
        assert_eq!((p.path, p.display.as_str()), (None, "mailto:"));
        let p = ExternalPath::parse("a/b:c").unwrap();
        assert_eq!(p.scheme, None, "a colon after a slash is not a scheme");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(ExternalPath::parse("file:/x%2").is_err());
        assert!(ExternalPath::parse("file:/x%zz").is_err());
        assert!(ExternalPath::parse("1x:/y").is_err());
        assert!(ExternalPath::parse(":/y").is_err());
        // Escapes of invalid UTF-8 decode lossily, as in Java.
        assert_eq!(ExternalPath::parse("/a%FF").unwrap().display, "/a\u{FFFD}");
        // A multi-byte escape sequence decodes to its character.
        assert_eq!(ExternalPath::parse("/%C3%A9").unwrap().display, "/é");
    }
}
