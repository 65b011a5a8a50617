//! The machine's own state, as the torture checks compare it before and after.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::sorted_dir;

/// What must be the same before and after any number of tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    /// Interfaces of the machine's network namespace.
    pub(crate) links: Vec<String>,
    /// IPv4 and IPv6 routes of every table of the machine's network namespace.
    pub(crate) routes: String,
    /// The nftables ruleset (empty if `nft` is not installed).
    pub(crate) nft: String,
    /// Entries of /run/netns.
    pub(crate) run_netns: Vec<String>,
    /// Mount points of the machine's mount namespace.
    pub(crate) mounts: BTreeSet<String>,
}

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl State {
    /// Reads the machine's state now.
    pub(crate) fn now() -> State {
        let mut routes = output("ip", &["route", "show", "table", "all"]);
        routes.push_str(&output("ip", &["-6", "route", "show", "table", "all"]));
        let mounts = std::fs::read_to_string("/proc/1/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .collect();
        State {
            links: sorted_dir("/sys/class/net"),
            routes,
            nft: output("nft", &["list", "ruleset"]),
            run_netns: sorted_dir("/run/netns"),
            mounts,
        }
    }

    /// Waits until the machine is back to `self` (the kernel finishes killing a test's
    /// processes asynchronously) and returns how long that took; panics with the
    /// difference if it is not back within `limit`.
    pub(crate) fn wait_until_back(&self, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let now = State::now();
            if now == *self {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!(
                    "the machine did not return to its state:\n{}",
                    self.diff(&now)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn diff(&self, now: &State) -> String {
        let mut out = String::new();
        let gone: Vec<_> = self.mounts.difference(&now.mounts).collect();
        let new: Vec<_> = now.mounts.difference(&self.mounts).collect();
        if !gone.is_empty() || !new.is_empty() {
            out.push_str(&format!("mounts: new {new:?}, gone {gone:?}\n"));
        }
        if self.links != now.links {
            out.push_str(&format!("links: {:?} -> {:?}\n", self.links, now.links));
        }
        if self.routes != now.routes {
            out.push_str(&format!("routes:\n{}\n->\n{}\n", self.routes, now.routes));
        }
        if self.nft != now.nft {
            out.push_str(&format!("nftables:\n{}\n->\n{}\n", self.nft, now.nft));
        }
        if self.run_netns != now.run_netns {
            out.push_str(&format!(
                "/run/netns: {:?} -> {:?}\n",
                self.run_netns, now.run_netns
            ));
        }
        out
    }
}

/// Processes that carry `token` in their environment (every process a victim test
/// starts inherits it) or as a whole command-line argument, with the network and user
/// namespaces each holds: after a test, this must become empty.
pub(crate) fn holders(token: &str) -> Vec<String> {
    let needle = format!("NETNS_TEST_VICTIM_TOKEN={token}");
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for pid in sorted_dir("/proc") {
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let carries = env.split(|b| *b == 0).any(|v| v == needle.as_bytes())
            || cmd.split(|b| *b == 0).any(|a| a == token.as_bytes());
        if carries {
            let ns = |k: &str| {
                std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            let args = String::from_utf8_lossy(&cmd).replace('\0', " ");
            found.push(format!("pid {pid} ({}, {}): {args}", ns("net"), ns("user")));
        }
    }
    found
}
