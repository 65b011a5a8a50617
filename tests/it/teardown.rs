//! Teardown is the kernel's: whatever way a test ends (pass, panic, `Err`, or its runner
//! killed with SIGKILL), no process it started survives and nothing appears in the
//! machine's own network namespace or under /run/netns.
//!
//! The victims below are ordinary `#[netns_test]`s, `#[ignore]`d so that a normal run
//! skips them; the checks run this same test binary again, filtered to one victim, and
//! look for survivors afterwards. Each victim starts `sleep` processes tagged with a
//! unique token (`sleep 3600 0.TOKEN`), one of them daemonised so it is nobody's child.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::output_text as text;

mod victims {
    use netns_test::{Net, netns_test};

    const TOKEN: &str = "NETNS_TEST_VICTIM_TOKEN";

    /// Starts two tagged sleepers in ns1 (one daemonised) and one in the host node.
    /// Returns false when not run by the checks below. The sleepers are left running on
    /// purpose: the kernel must end them.
    #[allow(clippy::zombie_processes)]
    fn start_sleepers(net: &Net) -> bool {
        let Ok(token) = std::env::var(TOKEN) else {
            return false;
        };
        let tag = format!("0.{token}");
        net.node("ns1")
            .command("sleep")
            .args(["3600", &tag])
            .spawn()
            .unwrap();
        net.host()
            .command("sleep")
            .args(["3600", &tag])
            .spawn()
            .unwrap();
        let status = net
            .node("ns1")
            .command("sh")
            .args(["-c", &format!("sleep 3600 {tag} >/dev/null 2>&1 &")])
            .status()
            .unwrap();
        assert!(status.success());
        println!("victim output: sleepers started");
        true
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by teardown checks"]
    fn passes(net: &Net) {
        start_sleepers(net);
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by teardown checks"]
    fn panics(net: &Net) {
        if start_sleepers(net) {
            panic!("victim panicked on purpose");
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by teardown checks"]
    fn returns_err(net: &Net) -> Result<(), std::io::Error> {
        if start_sleepers(net) {
            return Err(std::io::Error::other("victim returned Err on purpose"));
        }
        Ok(())
    }

    #[netns_test(topology = "../fixtures/s1.toml", timeout = "300ms")]
    #[should_panic]
    #[ignore = "run by teardown checks"]
    fn should_panic_but_hangs(_net: &Net) {
        if std::env::var_os(TOKEN).is_none() {
            panic!("not run by the checks");
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    }

    const LOCK: &str = "NETNS_TEST_VICTIM_LOCK";

    /// Holds an exclusive lock on the file `NETNS_TEST_VICTIM_LOCK` names, with 256 MiB
    /// of memory written: killed, it takes milliseconds to end and free the lock.
    #[test]
    #[ignore = "run by teardown checks"]
    fn lock_holder() {
        use nix::fcntl::{Flock, FlockArg};
        use std::io::Write;
        let Ok(path) = std::env::var(LOCK) else {
            return;
        };
        let file = std::fs::File::create(path).unwrap();
        let _lock = Flock::lock(file, FlockArg::LockExclusive).unwrap();
        let ballast = vec![1u8; 256 << 20];
        println!("LOCKED {}", ballast.len());
        std::io::stdout().flush().unwrap();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
            std::hint::black_box(&ballast);
        }
    }

    /// Runs before `gone_2_lock_free` (libtest runs tests in name order) and leaves
    /// a `lock_holder` running in ns1.
    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by teardown checks"]
    #[allow(clippy::zombie_processes)]
    fn gone_1_holder_left(net: &Net) {
        use std::io::{BufRead, BufReader};
        if std::env::var_os(LOCK).is_none() {
            return;
        }
        let mut holder = net
            .node("ns1")
            .command(std::env::current_exe().unwrap())
            .args(["teardown::victims::lock_holder", "--exact", "--ignored"])
            .args(["--nocapture", "-q"])
            .stdout(std::process::Stdio::piped())
            // Holding none of the test's output pipes, which the runner reads to
            // their end anyway.
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
        assert!(lines.any(|l| l.unwrap().starts_with("LOCKED")));
        println!("victim output: holder locked");
    }

    /// Tries the lock once, without waiting: the previous test's verdict is in, so the
    /// holder it left must be gone, its lock with it.
    #[test]
    #[ignore = "run by teardown checks"]
    fn gone_2_lock_free() {
        use nix::fcntl::{Flock, FlockArg};
        let Ok(path) = std::env::var(LOCK) else {
            return;
        };
        let file = std::fs::File::open(path).unwrap();
        if let Err((_, e)) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            panic!("the previous test's process still holds its lock after the verdict: {e}");
        }
        println!("victim output: lock free");
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by teardown checks"]
    fn hangs(net: &Net) {
        if start_sleepers(net) {
            println!("READY");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
    }
}

fn token() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}{:09}", std::process::id(), t % 1_000_000_000)
}

fn victim(name: &str, token: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        &format!("teardown::victims::{name}"),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("NETNS_TEST_VICTIM_TOKEN", token);
    cmd
}

/// Processes whose command line carries the token.
fn survivors(token: &str) -> Vec<String> {
    let tag = format!("0.{token}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        // The victim runner itself carries the token only in its environment.
        if args.contains(&tag) {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                args.join(" ")
            ));
        }
    }
    found
}

/// Processes whose environment carries the token: the victim's runner and everything
/// it started outside the test's namespaces too (its fork server and the server's
/// waiting children inherit the runner's environment).
fn holders(token: &str) -> Vec<String> {
    token_carriers(token)
        .into_iter()
        .map(|(pid, cmdline)| format!("{pid}: {cmdline}"))
        .collect()
}

/// Each process whose environment carries the token: its pid and command line.
fn token_carriers(token: &str) -> Vec<(String, String)> {
    let entry = format!("NETNS_TEST_VICTIM_TOKEN={token}");
    let mut found = Vec::new();
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(environ) = std::fs::read(proc_entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == entry.as_bytes()) {
            let cmdline = std::fs::read(proc_entry.path().join("cmdline")).unwrap_or_default();
            found.push((
                proc_entry.file_name().to_string_lossy().into_owned(),
                String::from_utf8_lossy(&cmdline).replace('\0', " "),
            ));
        }
    }
    found
}

/// What the machine's own network namespace and /run/netns look like.
fn machine_state() -> (Vec<String>, Vec<String>) {
    use crate::common::sorted_dir;
    (sorted_dir("/sys/class/net"), sorted_dir("/run/netns"))
}

/// Waits (up to 10 s) for the kernel to finish killing what the test started.
fn assert_nothing_survives(token: &str) {
    let start = Instant::now();
    loop {
        let mut left = survivors(token);
        left.extend(holders(token));
        if left.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!("processes the test started survived it: {left:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_to_end(name: &str) -> Output {
    let token = token();
    let before = machine_state();
    let out = victim(name, &token).output().unwrap();
    assert_nothing_survives(&token);
    assert_eq!(
        machine_state(),
        before,
        "the machine's network namespace changed"
    );
    out
}

#[test]
fn nothing_survives_a_passing_test() {
    let out = run_to_end("passes");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("victim output: sleepers started"),
        "output is relayed: {t}"
    );
}

#[test]
fn nothing_survives_a_panicking_test() {
    let out = run_to_end("panics");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("victim panicked on purpose"), "{t}");
}

#[test]
fn nothing_survives_a_test_returning_err() {
    let out = run_to_end("returns_err");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Error: victim returned Err on purpose"), "{t}");
}

/// Every way of starting a test's child: from the fork server (`cargo test`), cloned
/// by the runner (nextest's process-per-test mode), re-executed (the server off).
#[test]
fn nothing_survives_a_runner_killed_with_sigkill() {
    for mode in [
        &[][..],
        &[("NEXTEST_EXECUTION_MODE", "process-per-test")][..],
        &[("NETNS_TEST_FORK_SERVER", "0")][..],
    ] {
        runner_killed_with_sigkill(mode);
    }
}

fn runner_killed_with_sigkill(mode: &[(&str, &str)]) {
    let token = token();
    let before = machine_state();
    let mut child = victim("hangs", &token)
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("NETNS_TEST_FORK_SERVER")
        .envs(mode.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.any(|l| l.is_ok_and(|l| l.contains("READY")));
    assert!(ready, "{mode:?}: the victim never got going");
    assert!(
        !survivors(&token).is_empty(),
        "the victim's sleepers should be running now"
    );
    // The runner and what it started outside the namespaces (the fork server and its
    // waiting children, or the re-executed child's intermediate): all must go too.
    assert!(holders(&token).len() >= 2, "{:#?}", holders(&token));
    child.kill().unwrap(); // SIGKILL: no destructor, no handler runs in the runner
    child.wait().unwrap();
    assert_nothing_survives(&token);
    assert_eq!(
        machine_state(),
        before,
        "the machine's network namespace changed"
    );
}

/// Under nextest's process-per-test mode a test's process does not wait, before it
/// ends, for its capture sockets to be released (a grace period each): processes it
/// forks release them (its `NETNS_TEST_TIMING` line says how many). Those hold nothing
/// but what they release (not the output nextest reads to its end) and end on their
/// own, and nothing else survives.
#[test]
fn one_test_a_process_leaves_its_sockets_to_processes_that_hold_nothing_else() {
    use std::io::Read;
    let token = token();
    let before = machine_state();
    let mut child = victim("passes", &token)
        .env("NEXTEST_EXECUTION_MODE", "process-per-test")
        .env_remove("NETNS_TEST_FORK_SERVER")
        .env_remove("NETNS_TEST_CAPTURE")
        .env("NETNS_TEST_TIMING", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its output fits the pipes' buffers: wait for the process first, read it after.
    let status = child.wait().unwrap();
    let mut seen = 0;
    let start = Instant::now();
    loop {
        let releasing = releasing_processes(&token);
        for (pid, comm, held) in &releasing {
            // Just forked, it still has the test process's descriptors: it closes them
            // first thing, then takes this name (`ns::RELEASING`). Under load a look
            // can fall between the two.
            if comm != "netns-release" {
                continue;
            }
            for what in held {
                assert!(
                    what.starts_with("socket:[") || what.starts_with("mnt:["),
                    "process {pid}, left by the test's process, holds {what}: {held:?}"
                );
            }
        }
        seen = seen.max(releasing.len());
        if releasing.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still releasing after 10 s: {releasing:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut t = String::new();
    child.stdout.take().unwrap().read_to_string(&mut t).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut t).unwrap();
    assert!(status.success(), "{t}");
    assert!(t.contains("victim output: sleepers started"), "{t}");
    // The processes may be gone before the first look (a kernel with short grace
    // periods), so that they were started is read from the test's own account.
    assert!(
        t.contains("its sockets are closed by 1 releasing process\n"),
        "{t}"
    );
    println!("processes seen releasing the test's sockets: {seen}");
    assert_nothing_survives(&token);
    assert_eq!(
        machine_state(),
        before,
        "the machine's network namespace changed"
    );
}

/// Processes still running a copy of a victim's runner (its command line and the
/// token in its environment) once that runner has ended, each with its name
/// (`/proc/PID/comm`) and what its open descriptors are (`/proc/PID/fd` link targets).
fn releasing_processes(token: &str) -> Vec<(String, String, Vec<String>)> {
    token_carriers(token)
        .into_iter()
        .filter(|(_, cmdline)| cmdline.contains("teardown::victims::"))
        .map(|(pid, _)| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let held = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| {
                    d.flatten()
                        .filter_map(|f| std::fs::read_link(f.path()).ok())
                        .map(|l| l.to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            (pid, comm.trim_end().to_owned(), held)
        })
        .collect()
}

/// A test is over only when its processes are: a process it left behind, slow to end,
/// has ended (and freed its lock) before the next test starts, however the child was
/// started.
#[test]
fn a_tests_processes_are_gone_by_its_verdict() {
    let dir = crate::common::Scratch::created("gone");
    let lock = dir.path().join("lock");
    for mode in [
        &[][..],
        &[("NEXTEST_EXECUTION_MODE", "process-per-test")][..],
        &[("NETNS_TEST_FORK_SERVER", "0")][..],
    ] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "teardown::victims::gone_",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("NETNS_TEST_VICTIM_LOCK", &lock)
            .env_remove("NEXTEST_EXECUTION_MODE")
            .env_remove("NETNS_TEST_FORK_SERVER")
            .envs(mode.iter().copied())
            .output()
            .unwrap();
        let t = text(&out);
        assert!(out.status.success(), "{mode:?}: {t}");
        assert!(t.contains("holder locked"), "{mode:?}: {t}");
        assert!(t.contains("lock free"), "{mode:?}: {t}");
    }
}

#[test]
fn a_timeout_is_not_the_panic_should_panic_expects() {
    let out = run_to_end("should_panic_but_hangs");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("timed out after 300ms"), "{t}");
    assert!(t.contains("did not panic as expected"), "{t}");
}

#[test]
fn ignored_tests_are_listed_as_ignored() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--ignored"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(t.contains("api::ignored_tests_stay_ignored: test"), "{t}");
    assert!(t.contains("teardown::victims::hangs: test"), "{t}");
}
