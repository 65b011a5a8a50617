//! Helpers both test binaries (`it` and `torture`) use, included by each with
//! `#[path]`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use netns_test::Node;

/// A path under the temporary directory for one check, removed with all it holds when
/// dropped: a check that fails half-way leaves nothing behind either.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// `$TMPDIR/netns-test-<what>-<pid>-<n>`, unique in this process, not created yet
    /// (whatever an earlier process of the same pid left there is removed).
    pub(crate) fn new(what: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("netns-test-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Scratch(path)
    }

    /// The same, created.
    pub(crate) fn created(what: &str) -> Scratch {
        let s = Scratch::new(what);
        std::fs::create_dir_all(&s.0)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", s.0.display()));
        s
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The node's interfaces by name, without the kernel's fallback tunnels (which a
/// namespace holds once tunnel modules are loaded).
pub(crate) fn own_interfaces(node: &Node) -> Vec<String> {
    node.interfaces()
        .unwrap()
        .into_iter()
        .filter(|i| !i.is_fallback_tunnel())
        .map(|i| i.name)
        .collect()
}

/// The entries of the directory `path`, sorted (none if it cannot be read).
pub(crate) fn sorted_dir(path: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(path)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
