//! Step 2a: the `topology = "..."` string. Decides whether it is a path or inline text,
//! reads the file, and parses and validates the text with `netns-test-topology`, so
//! that a broken topology is a compile error at the string.

use std::path::{Path, PathBuf};

use syn::LitStr;

/// Where the topology text of a test comes from, once read and validated.
pub(crate) enum Source {
    /// A file, by its absolute path (UTF-8, since it goes into `include_str!`).
    File(String),
    /// The attribute's string itself.
    Inline,
}

/// A topology that parsed and validated.
pub(crate) struct Loaded {
    /// Where the text comes from.
    pub(crate) source: Source,
    /// For the runtime's messages: the path as the user wrote it, or `<inline>`.
    pub(crate) origin: String,
    /// Whether its `host` node is plain (see `Registered::plain_host`).
    pub(crate) plain_host: bool,
}

/// What `origin` is for inline topology text.
const INLINE_ORIGIN: &str = "<inline>";

/// Reads (if it is a path) and validates the topology named by `lit`. Errors are
/// spanned at `lit`.
pub(crate) fn load(lit: &LitStr) -> syn::Result<Loaded> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    load_in(lit, manifest_dir.as_deref())
}

/// [`load`], with the directory relative paths are resolved against.
fn load_in(lit: &LitStr, manifest_dir: Option<&Path>) -> syn::Result<Loaded> {
    let value = lit.value();
    let error = |message: String| syn::Error::new(lit.span(), message);

    if value.trim().is_empty() {
        return Err(error(
            "`topology` is empty: give a topology file's path (relative to the directory of \
             this crate's Cargo.toml) or the topology text"
                .into(),
        ));
    }
    if is_inline(&value) {
        let plain_host = check(&value, INLINE_ORIGIN).map_err(|mut m| {
            // A one-line string that names a file: say why it was not read as a path.
            let written = Path::new(&value);
            let file = match manifest_dir {
                _ if written.is_absolute() => Some(written.to_path_buf()),
                Some(dir) => Some(dir.join(written)),
                None => None,
            };
            if !value.contains('\n') && file.is_some_and(|f| f.is_file()) {
                m.push(format!(
                    "`{value}` was read as topology text, not as the file of that name, \
                     because it contains `[` or `=`\n= help: rename the file without `[` \
                     and `=`, or give its text inline"
                ));
            }
            errors_at(lit, m)
        })?;
        return Ok(Loaded {
            source: Source::Inline,
            origin: INLINE_ORIGIN.into(),
            plain_host,
        });
    }

    let written = Path::new(&value);
    let resolved = match manifest_dir {
        _ if written.is_absolute() => written.to_path_buf(),
        Some(dir) => dir.join(written),
        None => {
            return Err(error(format!(
                "cannot resolve topology file `{value}`: CARGO_MANIFEST_DIR is not set (build \
                 with cargo), so a relative path has nothing to be relative to"
            )));
        }
    };
    let text =
        std::fs::read_to_string(&resolved).map_err(|e| error(read_error(&value, &resolved, &e)))?;
    let Some(abs) = resolved.to_str() else {
        return Err(error(format!(
            "topology file path {} is not valid UTF-8, which `include_str!` needs",
            resolved.display()
        )));
    };
    let plain_host = check(&text, &value).map_err(|m| errors_at(lit, m))?;
    Ok(Loaded {
        source: Source::File(abs.to_owned()),
        origin: value,
        plain_host,
    })
}

/// Whether the attribute's string is topology text rather than a path: a path has no
/// newline, no `[` (table header) and no `=` (key/value).
fn is_inline(value: &str) -> bool {
    value.contains(['\n', '[', '='])
}

/// The message for a topology file that cannot be read.
fn read_error(written: &str, resolved: &Path, e: &std::io::Error) -> String {
    let mut message = format!("cannot read topology file `{written}`");
    if Path::new(written) != resolved {
        message.push_str(&format!(" (resolved to {})", resolved.display()));
    }
    message.push_str(": ");
    message.push_str(&io_reason(e));
    let help = match e.kind() {
        std::io::ErrorKind::IsADirectory => "name a topology file, not a directory",
        std::io::ErrorKind::InvalidData => "topology files are UTF-8 text",
        std::io::ErrorKind::PermissionDenied => {
            "the file must be readable by the user running the compiler"
        }
        _ if Path::new(written).is_relative() => {
            "a relative path is resolved against the directory of this crate's Cargo.toml; \
             a string containing a newline, `[` or `=` is read as the topology text itself"
        }
        _ => "a string containing a newline, `[` or `=` is read as the topology text itself",
    };
    message.push_str("\n= help: ");
    message.push_str(help);
    message
}

/// An I/O error's text without the ` (os error N)` suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// Parses and validates topology text, and says whether its `host` node is plain;
/// `Err` holds one message per problem, each
/// the parser's rustc-style report (origin, line, column, the source line with
/// carets, help) minus the leading `error: ` that rustc adds itself. One compile
/// error per problem reads like rustc's own output and counts right.
///
/// The one place that knows `netns_test_topology`'s API.
fn check(text: &str, origin: &str) -> Result<bool, Vec<String>> {
    let e = match netns_test_topology::parse(text, origin) {
        Ok(topology) => return Ok(topology.host_is_plain()),
        Err(e) => e,
    };
    let mut messages: Vec<String> = e
        .diagnostics()
        .iter()
        .map(|d| {
            let report = d.to_string();
            match report.strip_prefix("error: ") {
                Some(rest) => rest.to_owned(),
                None => report,
            }
        })
        .collect();
    if e.omitted() > 0 {
        messages.push(format!(
            "{} more problems in this topology not shown",
            e.omitted()
        ));
    }
    if messages.is_empty() {
        // An error without diagnostics should not exist; never hide that it failed.
        messages.push(format!("invalid topology: {e}"));
    }
    Err(messages)
}

/// One [`syn::Error`] at `lit` for every message.
fn errors_at(lit: &LitStr, messages: Vec<String>) -> syn::Error {
    let mut errors = messages.into_iter().map(|m| syn::Error::new(lit.span(), m));
    let mut all = errors
        .next()
        .unwrap_or_else(|| syn::Error::new(lit.span(), "invalid topology"));
    all.extend(errors);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, proc_macro2::Span::call_site())
    }

    #[test]
    fn inline_or_path() {
        assert!(is_inline("[nodes.a]"));
        assert!(is_inline("a = 1"));
        assert!(is_inline("x\ny"));
        assert!(!is_inline("fixtures/s1.toml"));
        assert!(!is_inline("/abs/s1.toml"));
    }

    #[test]
    fn missing_file() {
        let dir = Path::new("/nonexistent-netns-test-dir");
        let Err(e) = load_in(&lit("fixtures/x.toml"), Some(dir)) else {
            panic!("expected an error")
        };
        assert_eq!(
            e.to_string(),
            "cannot read topology file `fixtures/x.toml` (resolved to \
             /nonexistent-netns-test-dir/fixtures/x.toml): No such file or directory\n\
             = help: a relative path is resolved against the directory of this crate's \
             Cargo.toml; a string containing a newline, `[` or `=` is read as the topology \
             text itself"
        );
        let Err(e) = load_in(&lit("/nonexistent-netns-test-dir/x.toml"), Some(dir)) else {
            panic!("expected an error")
        };
        assert!(e.to_string().starts_with(
            "cannot read topology file `/nonexistent-netns-test-dir/x.toml`: No such"
        ));
    }

    #[test]
    fn directory_and_empty() {
        let Err(e) = load_in(&lit("."), Some(Path::new("/"))) else {
            panic!("expected an error")
        };
        assert!(e.to_string().contains("Is a directory"), "{e}");
        let Err(e) = load_in(&lit("  "), None) else {
            panic!("expected an error")
        };
        assert!(e.to_string().starts_with("`topology` is empty"));
    }

    #[test]
    fn one_error_per_problem() {
        let text = "[nodes.a]\nroutes = [\"10.0.0.0/8 via 192.168.9.1\"]\n[[links]]\nendpoints = [\"a:x\", \"b:y\"]\n";
        let Err(e) = load_in(&lit(text), None) else {
            panic!("expected an error")
        };
        let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        for m in &messages {
            assert!(!m.starts_with("error: "), "{m}");
            assert!(m.contains("--> <inline>:"), "{m}");
        }
    }

    #[test]
    fn a_file_name_with_an_equals_sign_is_explained() {
        let dir = std::env::temp_dir().join(format!("netns-test-macros-eq-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fixtures")).unwrap();
        std::fs::write(dir.join("fixtures/a=b.toml"), "[nodes.a]\n").unwrap();
        let found = load_in(&lit("fixtures/a=b.toml"), Some(&dir));
        let missing = load_in(&lit("fixtures/c=d.toml"), Some(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        let Err(e) = found else {
            panic!("expected an error")
        };
        let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert!(
            messages.iter().any(|m| m.starts_with(
                "`fixtures/a=b.toml` was read as topology text, not as the file of that name"
            ) && m.contains("rename the file")),
            "{messages:?}"
        );
        // No such file: only the parser's own message.
        let Err(e) = missing else {
            panic!("expected an error")
        };
        assert!(!e.to_string().contains("was read as topology text"), "{e}");
    }

    #[test]
    fn file_source() {
        let dir = std::env::temp_dir().join(format!("netns-test-macros-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fixtures")).unwrap();
        std::fs::write(dir.join("fixtures/a.toml"), "[nodes.a]\n").unwrap();
        let loaded = load_in(&lit("fixtures/a.toml"), Some(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.origin, "fixtures/a.toml");
        let Source::File(abs) = loaded.source else {
            panic!("expected a file")
        };
        assert_eq!(Path::new(&abs), dir.join("fixtures/a.toml"));
    }
}
