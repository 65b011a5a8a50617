//! Where a test's trace goes: `<root>/<test binary>/<test path>/trace.pcapng`, the root
//! being `$NETNS_TEST_ARTIFACTS` or `<cargo target dir>/netns-test`. One directory per
//! test (module path segments become directories), so parallel tests never share a
//! file; a new trace replaces the old one.

use std::path::{Path, PathBuf};

/// The trace file of the test `libtest_name` (`module::path::test`) run by the test
/// binary `exe`, under `root` (from `NETNS_TEST_ARTIFACTS`), if given.
pub(crate) fn trace_path(exe: &Path, libtest_name: &str, root: Option<&Path>) -> PathBuf {
    let root = match root {
        Some(r) => r.to_owned(),
        None => target_dir(exe)
            .unwrap_or_else(std::env::temp_dir)
            .join("netns-test"),
    };
    let mut dir = root.join(binary_name(exe));
    for seg in libtest_name.split("::") {
        dir.push(sanitize(seg));
    }
    dir.join("trace.pcapng")
}

/// Cargo's target directory for a binary inside it: the nearest ancestor that has
/// Cargo's `CACHEDIR.TAG` (so `target/debug/deps/it-1f2e...` and
/// `target/x86_64-unknown-linux-gnu/release/deps/...` both give `target`), else the
/// directory above `<profile>/deps`.
fn target_dir(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    if let Some(t) = dir.ancestors().find(|a| a.join("CACHEDIR.TAG").is_file()) {
        return Some(t.to_owned());
    }
    if dir.file_name()? == "deps" {
        return Some(dir.parent()?.parent()?.to_owned());
    }
    None
}

/// The test binary's name without Cargo's `-<16 hex digits>` suffix.
fn binary_name(exe: &Path) -> String {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tests".to_owned());
    match name.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem.to_owned()
        }
        _ => name,
    }
}

/// A path segment from a Rust identifier (`r#loop` keeps its name as `loop`).
fn sanitize(seg: &str) -> String {
    let seg = seg.strip_prefix("r#").unwrap_or(seg);
    seg.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let exe = Path::new("/nonexistent/target/debug/deps/it-0123456789abcdef");
        assert_eq!(
            trace_path(exe, "capture::victims::fails", None),
            Path::new("/nonexistent/target/netns-test/it/capture/victims/fails/trace.pcapng")
        );
        assert_eq!(
            trace_path(exe, "r#loop", Some(Path::new("/tmp/a"))),
            Path::new("/tmp/a/it/loop/trace.pcapng")
        );
        assert_eq!(binary_name(Path::new("/x/tour")), "tour");
        assert_eq!(binary_name(Path::new("/x/my-tests-abc")), "my-tests-abc");
    }
}
