//! Helpers both test binaries (`it` and `torture`) use, included by each with
//! `#[path]`.

use netns_test::Node;

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
