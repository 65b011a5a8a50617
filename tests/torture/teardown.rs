//! Teardown under faults, counted: many tests that pass, panic, return `Err`, time out,
//! abort, leave daemons and blocked threads behind, or have their runner SIGKILLed at a
//! random moment (mid-build, mid-body). After each one, every process it started must
//! be gone; after all of them, the machine's interfaces, routes, nftables ruleset,
//! /run/netns and mounts must be as before.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::machine::{self, State};

mod victims {
    use netns_test::{Net, netns_test};

    /// Starts a sleeper in ns1 and the host node, and a daemon (double fork, new
    /// session) in ns1. Returns false when not run by the torture driver.
    #[allow(clippy::zombie_processes)]
    fn start_processes(net: &Net) -> bool {
        if std::env::var_os("NETNS_TEST_VICTIM_TOKEN").is_none() {
            return false;
        }
        net.node("ns1")
            .command("sleep")
            .arg("3600")
            .spawn()
            .unwrap();
        net.host().command("sleep").arg("3600").spawn().unwrap();
        let ok = net
            .node("ns1")
            .command("sh")
            .args(["-c", "setsid sleep 3600 </dev/null >/dev/null 2>&1 &"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        true
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the torture driver"]
    fn passes(net: &Net) {
        start_processes(net);
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the torture driver"]
    fn panics(net: &Net) {
        if start_processes(net) {
            panic!("victim panics");
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the torture driver"]
    fn returns_err(net: &Net) -> Result<(), std::io::Error> {
        if start_processes(net) {
            return Err(std::io::Error::other("victim returns Err"));
        }
        Ok(())
    }

    #[netns_test(topology = "../fixtures/s1.toml", timeout = "300ms")]
    #[ignore = "run by the torture driver"]
    fn times_out(net: &Net) {
        if start_processes(net) {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the torture driver"]
    fn aborts(net: &Net) {
        if start_processes(net) {
            std::process::abort();
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the torture driver"]
    fn leaves_blocked_threads(net: &Net) {
        if start_processes(net) {
            for _ in 0..3 {
                let (_tx, rx) = std::sync::mpsc::channel::<()>();
                std::thread::spawn(move || {
                    let _keep = _tx;
                    let _ = rx.recv();
                });
            }
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the torture driver"]
    fn runs_until_killed(net: &Net) {
        if start_processes(net) {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Pass,
    Panic,
    Err,
    Timeout,
    Abort,
    BlockedThreads,
    Sigkill,
}

const FAULTS: [Fault; 7] = [
    Fault::Pass,
    Fault::Panic,
    Fault::Err,
    Fault::Timeout,
    Fault::Abort,
    Fault::BlockedThreads,
    Fault::Sigkill,
];

impl Fault {
    fn victim(self) -> &'static str {
        match self {
            Fault::Pass => "passes",
            Fault::Panic => "panics",
            Fault::Err => "returns_err",
            Fault::Timeout => "times_out",
            Fault::Abort => "aborts",
            Fault::BlockedThreads => "leaves_blocked_threads",
            Fault::Sigkill => "runs_until_killed",
        }
    }

    /// Whether the victim's runner should report success.
    fn passes(self) -> Option<bool> {
        match self {
            Fault::Pass | Fault::BlockedThreads => Some(true),
            Fault::Sigkill => None,
            _ => Some(false),
        }
    }
}

/// A small xorshift generator: the run prints its seed so a failure can be repeated
/// with `NETNS_TEST_TORTURE_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Outcome {
    settle: Duration,
    leaked: Vec<String>,
    unexpected: Option<String>,
}

fn run_one(i: usize, fault: Fault, kill_after: Duration) -> Outcome {
    let token = format!("torture-{}-{i}", std::process::id());
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        &format!("teardown::victims::{}", fault.victim()),
        "--exact",
        "--ignored",
        "--test-threads=1",
    ])
    .env("NETNS_TEST_VICTIM_TOKEN", &token)
    .env("NETNS_TEST_CAPTURE", "never")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut unexpected = None;
    match fault.passes() {
        None => {
            let mut child = cmd.spawn().unwrap();
            std::thread::sleep(kill_after);
            child.kill().unwrap();
            child.wait().unwrap();
        }
        Some(want) => {
            let out = cmd.output().unwrap();
            if out.status.success() != want {
                unexpected = Some(format!(
                    "{fault:?}: runner {} ({}):\n{}{}",
                    if want { "failed" } else { "passed" },
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    let start = Instant::now();
    loop {
        let left = machine::holders(&token);
        if left.is_empty() {
            return Outcome {
                settle: start.elapsed(),
                leaked: Vec::new(),
                unexpected,
            };
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Outcome {
                settle: start.elapsed(),
                leaked: left,
                unexpected,
            };
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn faulted_tests_leave_nothing_behind() {
    let _serial = crate::SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let n = crate::size(140, 1000);
    let seed = std::env::var("NETNS_TEST_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let mut rng = Rng(seed);
    let plan: Vec<(usize, Fault, Duration)> = (0..n)
        .map(|i| {
            let fault = FAULTS[i % FAULTS.len()];
            // Kill anywhere from before the child starts to well into the body.
            let kill_after = Duration::from_micros(rng.next() % 40_000);
            (i, fault, kill_after)
        })
        .collect();
    let before = State::now();
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(i, fault, kill)) = plan.get(k) else {
                        break;
                    };
                    let o = run_one(i, fault, kill);
                    results.lock().unwrap().push((fault, o));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let settle_machine = before.wait_until_back(Duration::from_secs(30));
    let mut settles: Vec<Duration> = results.iter().map(|(_, o)| o.settle).collect();
    settles.sort();
    let leaks: Vec<&String> = results.iter().flat_map(|(_, o)| &o.leaked).collect();
    let unexpected: Vec<&String> = results
        .iter()
        .filter_map(|(_, o)| o.unexpected.as_ref())
        .collect();
    println!(
        "torture: {} tests in {:.1} s (seed {seed}): {} faults injected ({} SIGKILLs at random \
         moments); leaks {}; processes gone within median {:?}, max {:?} of the runner's end; \
         machine state back after {:?}",
        results.len(),
        started.elapsed().as_secs_f64(),
        results
            .iter()
            .filter(|(f, _)| !matches!(f, Fault::Pass))
            .count(),
        results
            .iter()
            .filter(|(f, _)| matches!(f, Fault::Sigkill))
            .count(),
        leaks.len(),
        settles[settles.len() / 2],
        settles[settles.len() - 1],
        settle_machine,
    );
    assert!(
        leaks.is_empty(),
        "processes survived their tests: {leaks:#?}"
    );
    assert!(
        unexpected.is_empty(),
        "victims ended unexpectedly: {unexpected:#?}"
    );
    assert_eq!(results.len(), n);
}
