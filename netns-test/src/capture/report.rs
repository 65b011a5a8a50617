//! The text a failure message ends with: where the trace is, per-interface packet and
//! drop counts, then the last packets as one-line summaries.

use std::fmt::Write as _;
use std::path::Path;

use super::engine::Trace;
use super::store::Direction;
use super::summary::describe;

/// The report for `trace`, which was to be written to `path`; `written` says whether
/// that worked.
pub(crate) fn report(
    trace: &Trace,
    path: &Path,
    written: Result<(), &std::io::Error>,
    last: usize,
) -> String {
    let store = &trace.store;
    let mut out = String::new();
    let _ = match written {
        Ok(()) => writeln!(
            out,
            "netns-test: packet trace ({} packets on {} interfaces) written to {}",
            store.total(),
            store.ifaces.len(),
            path.display()
        ),
        Err(e) => writeln!(
            out,
            "netns-test: could not write the packet trace to {}: {e} (set \
             NETNS_TEST_ARTIFACTS to a directory you can write to)",
            path.display()
        ),
    };
    if store.dropped > 0 {
        let _ = writeln!(
            out,
            "netns-test: the capture's memory cap dropped the oldest {} (raise it \
             with `capture_limit = \"64MiB\"` or NETNS_TEST_CAPTURE_LIMIT)",
            super::packets(store.dropped)
        );
    }
    let cut = store.cut();
    if cut > 0 {
        let _ = writeln!(
            out,
            "netns-test: {} {}; raise it with `capture_limit = \"64MiB\"` or \
             NETNS_TEST_CAPTURE_LIMIT)",
            super::packets(cut),
            super::cut_for_the_rate(trace.limit)
        );
    }
    for (node, drops) in &trace.kernel_drops {
        if *drops > 0 {
            let _ = writeln!(
                out,
                "netns-test: the kernel dropped {} in node {node} before they could \
                 be captured",
                super::packets(*drops)
            );
        }
    }
    let counts: Vec<String> = store
        .ifaces
        .iter()
        .filter(|i| i.packets > 0)
        .map(|i| {
            let notes: Vec<String> = [(i.dropped, "dropped"), (i.cut, "cut")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| format!("{n} {what}"))
                .collect();
            if notes.is_empty() {
                format!("{} {}", i.label(), i.packets)
            } else {
                format!("{} {} ({})", i.label(), i.packets, notes.join(", "))
            }
        })
        .collect();
    if counts.is_empty() {
        out.push_str("packets per interface: none seen\n");
    } else {
        let _ = writeln!(out, "packets per interface: {}", counts.join(", "));
    }
    let shown = store.packets.len().min(last);
    if shown > 0 {
        let _ = writeln!(out, "last {shown} packets (time since the body started):");
        let width = store
            .packets
            .iter()
            .rev()
            .take(shown)
            .map(|p| store.ifaces[p.iface].label().len())
            .max()
            .unwrap_or(0);
        for p in store.packets.iter().skip(store.packets.len() - shown) {
            let iface = &store.ifaces[p.iface];
            let t = p.time.as_nanos() as i128 - trace.start.as_nanos() as i128;
            let dir = match p.dir {
                Direction::In => "In ",
                Direction::Out => "Out",
            };
            let _ = writeln!(
                out,
                "  {:>+11.6} {:<width$} {dir} {}",
                t as f64 / 1e9,
                iface.label(),
                describe(iface.link, &p.data, p.len),
            );
        }
    }
    out
}
