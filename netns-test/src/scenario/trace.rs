//! Packet traces of scenario runs: the same capture `#[netns_test]` keeps for a failing
//! test (every packet on every interface of every node, see `crate::capture`), started
//! once the topology is built and written as pcapng when a step fails (or always, with
//! `NETNS_TEST_CAPTURE=always`; never with `never`).

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::SystemTime;

use nix::sys::socket::{setsockopt, sockopt};

use crate::__private::TestOptions;
use crate::capture::engine::{self, NodeSockets};
use crate::capture::{CapturePolicy, Settings, links, pcapng, report};
use crate::net::Net;
use crate::ns::packet::packet_socket_all;

/// A capture in progress (or why there is none).
#[derive(Debug)]
pub(super) struct Capture {
    running: Option<engine::Running>,
    settings: Option<Settings>,
    problem: Option<String>,
}

impl Capture {
    fn off(problem: Option<String>) -> Capture {
        Capture {
            running: None,
            settings: None,
            problem,
        }
    }
}

/// Opens a packet socket in every node and starts reading them.
pub(super) fn start(net: &Net) -> Capture {
    let settings = match Settings::from_env(&TestOptions::DEFAULT) {
        Ok(s) => s,
        Err(e) => return Capture::off(Some(e)),
    };
    if settings.policy == CapturePolicy::Never {
        return Capture::off(None);
    }
    let mut nodes = Vec::new();
    for node in net.nodes() {
        let opened = node.run(|| -> io::Result<(OwnedFd, OwnedFd)> {
            let p = packet_socket_all()?;
            setsockopt(&p, sockopt::ReceiveTimestampns, &true)?;
            Ok((p, links::open_socket()?))
        });
        match opened {
            Ok((packet, netlink)) => nodes.push(NodeSockets {
                node: node.name().to_owned(),
                packet,
                netlink,
            }),
            Err(e) => {
                let why = format!("cannot open a packet socket in node `{}`: {e}", node.name());
                return Capture::off(Some(why));
            }
        }
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    match engine::start(nodes, now, settings.snaplen, settings.limit) {
        Ok(running) => Capture {
            running: Some(running),
            settings: Some(settings),
            problem: None,
        },
        Err(e) => Capture::off(Some(format!("cannot start the capture thread: {e}"))),
    }
}

/// Stops the capture; when the scenario `failed` (or the policy says always), writes
/// the trace to `path` and returns the text saying where it is and what the last
/// packets were.
pub(super) fn finish(c: Capture, failed: bool, path: &Path) -> Option<String> {
    let (Some(running), Some(settings)) = (c.running, c.settings) else {
        return match (failed, c.problem) {
            (true, Some(p)) => Some(format!("netns-test: no packet trace: {p}")),
            _ => None,
        };
    };
    let mut trace = running.finish()?;
    // Each socket's release waits for a grace period: together, not one by one as the
    // process ends.
    crate::capture::closer::close_later(std::mem::take(&mut trace.sockets));
    if !failed && settings.policy != CapturePolicy::Always {
        // A trace from an earlier failing run would now mislead.
        let _ = std::fs::remove_file(path);
        return None;
    }
    let written = pcapng::write_file(&trace, path);
    let text = report::report(
        &trace,
        path,
        written.as_ref().map(|_| ()),
        settings.summary as usize,
    );
    Some(text.trim_end().to_owned())
}
