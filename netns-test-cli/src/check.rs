//! `netns-test check FILE...`: parse and validate without building. Problems are
//! printed exactly as `#[netns_test]` reports them at compile time (both come from the
//! topology parser), with file:line:column, a caret under the fault and a hint.

use std::path::PathBuf;

use crate::error_text;

pub(crate) fn check(files: &[PathBuf]) -> u8 {
    let mut bad = 0;
    for file in files {
        match netns_test::load(file) {
            Ok(t) => {
                let nodes = t.nodes.len().saturating_sub(1);
                outln!(
                    "ok: {} ({nodes} nodes + host, {} links, {} bridges, {} devices, {} checks)",
                    file.display(),
                    t.links.len(),
                    t.bridges.len(),
                    t.devices.len(),
                    t.checks.len()
                );
            }
            Err(e) => {
                bad += 1;
                eprintln!("{}\n", error_text(&e));
            }
        }
    }
    if bad > 0 {
        eprintln!("netns-test: invalid: {bad} of {} file(s)", files.len());
        1
    } else {
        0
    }
}
