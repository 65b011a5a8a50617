//! The comparisons: the seeds' shell way, `ip -batch` and (when installed) Mininet, each
//! started as a process and timed from spawn to exit.
//!
//! Both run inside a private mount namespace with a tmpfs on /run, so `ip netns add`
//! never touches the machine's /run/netns; the chain batch also runs inside a user
//! namespace, as netns-test does.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::topo;

/// The programs the comparisons start, each with the Debian package that has it: `ip`
/// and `unshare` always, `sh` and `ping` for the shell ways (root only).
const TOOLS: [(&str, &str, bool); 4] = [
    ("ip", "iproute2", false),
    ("unshare", "util-linux", false),
    ("sh", "dash", true),
    ("ping", "iputils-ping", true),
];

/// Whether a program `name` is in one of the directories of `path` (a `PATH` value).
fn in_path(path: &std::ffi::OsStr, name: &str) -> bool {
    std::env::split_paths(path).any(|dir| dir.join(name).is_file())
}

/// Whether a program `name` is on this process's `PATH`.
pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| in_path(&path, name))
}

/// Says which programs a full run needs and cannot find on `PATH`, before any row is
/// measured, rather than failing half-way through the run.
pub(crate) fn missing_tools(root: bool) -> Option<String> {
    missing_tools_in(&std::env::var_os("PATH").unwrap_or_default(), root)
}

/// [`missing_tools`] with `path` as the `PATH`.
fn missing_tools_in(path: &std::ffi::OsStr, root: bool) -> Option<String> {
    let missing: Vec<_> = TOOLS
        .iter()
        .filter(|(name, _, root_only)| (root || !root_only) && !in_path(path, name))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let names: Vec<_> = missing.iter().map(|(n, _, _)| format!("`{n}`")).collect();
    let packages: Vec<_> = missing.iter().map(|(_, p, _)| *p).collect();
    let (are, them) = if missing.len() == 1 {
        ("it is", "it")
    } else {
        ("they are", "them")
    };
    Some(format!(
        "the comparison rows run {} and {are} not on PATH; install {them} (Debian: \
         `apt-get install {}`), or use `--only pair` for our rows alone",
        names.join(", "),
        packages.join(" "),
    ))
}

/// Runs `cmd` (stdout discarded) and times it from spawn to exit; panics if it fails.
pub(crate) fn time(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let d = t.elapsed();
    assert!(status.success(), "{cmd:?} failed: {status}");
    d
}

/// Times `argv` `n` times.
pub(crate) fn repeat_cmd(argv: &[&str], n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| time(Command::new(argv[0]).args(&argv[1..])))
        .collect()
}

fn in_private_run(script: &str, user_ns: bool) -> Command {
    let mut c = Command::new("unshare");
    if user_ns {
        c.args(["--user", "--map-root-user", "--net"]);
    }
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("mount -t tmpfs tmpfs /run && {{\n{script}\n}}"));
    c
}

/// The S1 pair with one `ip` process per step (root only).
pub(crate) fn repeat_pair_shell(n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| time(&mut in_private_run(topo::pair_shell_script(), false)))
        .collect()
}

/// The full S1 walk-through, pings included (root only).
pub(crate) fn repeat_pair_shell_ping(n: usize) -> Vec<Duration> {
    let script = topo::pair_shell_script_with_ping();
    (0..n)
        .map(|_| time(&mut in_private_run(&script, false)))
        .collect()
}

/// The S1 walk-through with `ip netns exec` for every in-namespace command, as the
/// documents write it (root only).
pub(crate) fn repeat_pair_documents(n: usize) -> Vec<Duration> {
    let script = topo::pair_documents_script();
    (0..n)
        .map(|_| time(&mut in_private_run(&script, false)))
        .collect()
}

/// The S1 pair without the pings, as the documents write it (root only).
pub(crate) fn repeat_pair_documents_build(n: usize) -> Vec<Duration> {
    let script = topo::pair_documents_build_script();
    (0..n)
        .map(|_| time(&mut in_private_run(&script, false)))
        .collect()
}

/// The wrapper of [`repeat_pair_shell`] alone.
pub(crate) fn repeat_wrapper_only(n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| time(&mut in_private_run("true", false)))
        .collect()
}

/// An `n`-node chain configured with `ip -batch` (one batch for namespaces and links,
/// one per namespace for the rest) in a user namespace.
pub(crate) fn repeat_chain_batch(n: usize, runs: usize) -> Vec<Duration> {
    let dir = std::env::temp_dir().join(format!("netns-test-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (first, per_ns) = topo::chain_batches(n);
    std::fs::write(dir.join("first"), first).expect("write batch");
    let mut script = format!("set -e\nip -batch {}/first\n", dir.display());
    for (ns, batch) in &per_ns {
        let f = dir.join(format!("ns-{ns}"));
        std::fs::write(&f, batch).expect("write batch");
        script.push_str(&format!("ip -n {ns} -batch {}\n", f.display()));
    }
    let out = (0..runs)
        .map(|_| time(&mut in_private_run(&script, true)))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// The S1 walk-through in Mininet: two hosts joined by one link, a ping each way.
const MININET_S1: &str = "
from mininet.net import Mininet
net = Mininet(controller=None, build=False, autoSetMacs=True)
h1 = net.addHost('h1', ip='192.168.1.1/24')
h2 = net.addHost('h2', ip='192.168.1.2/24')
net.addLink(h1, h2)
net.build()
assert '1 received' in h1.cmd('ping -c1 -W1 192.168.1.2')
assert '1 received' in h2.cmd('ping -c1 -W1 192.168.1.1')
net.stop()
";

/// The Python that has Mininet, if any (root only, as Mininet is).
fn mininet_python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import mininet.net"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// [`MININET_S1`] `n` times, each in a private network and mount namespace (Mininet
/// builds in the namespace it runs in, and nothing may touch the machine's); `None`
/// when Mininet is not installed.
pub(crate) fn repeat_mininet(n: usize) -> Option<Vec<Duration>> {
    let py = mininet_python()?;
    let dir = std::env::temp_dir().join(format!("netns-test-bench-mn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = dir.join("s1.py");
    std::fs::write(&script, MININET_S1).ok()?;
    let out = (0..n)
        .map(|_| {
            time(
                Command::new("unshare")
                    .args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
                    // Mininet complains about resource limits it cannot raise here.
                    .arg(format!(
                        "mount -t tmpfs tmpfs /run && ip link set lo up && exec {py} {} 2>/dev/null",
                        script.display()
                    )),
            )
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_named_with_their_packages() {
        let dir =
            std::env::temp_dir().join(format!("netns-test-bench-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.as_os_str();
        let as_root = missing_tools_in(empty, true).expect("nothing is on an empty PATH");
        assert!(
            as_root.contains("`ip`, `unshare`, `sh`, `ping` and they are not on PATH"),
            "{as_root}"
        );
        assert!(
            as_root.contains("apt-get install iproute2 util-linux dash iputils-ping"),
            "{as_root}"
        );
        // Not root: the shell ways do not run, so only `ip` and `unshare` are needed.
        let user = missing_tools_in(empty, false).unwrap();
        assert!(user.contains("`ip`, `unshare` and they are"), "{user}");
        assert!(!user.contains("ping"), "{user}");

        for name in ["ip", "unshare", "sh"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let one = missing_tools_in(empty, true).unwrap();
        assert!(
            one.contains("run `ping` and it is not on PATH; install it"),
            "{one}"
        );
        assert_eq!(missing_tools_in(empty, false), None);
        std::fs::write(dir.join("ping"), "").unwrap();
        assert_eq!(missing_tools_in(empty, true), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
