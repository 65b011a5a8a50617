//! What a two-node test costs without netns-test's per-test process, to show how much
//! of a test is the kernel's: CPU per run over both cores, and floors measured in one
//! isolated process (this binary re-executed, `netns_test::isolate()` first).

use std::fs::File;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns, unshare};

use crate::topo;

/// The variable that makes this binary a floor child: `MODE:RUNS`.
const FLOOR_ENV: &str = "NETNS_TEST_BENCH_FLOOR";

/// A floor: what one run does in the isolated process.
#[derive(Clone, Copy)]
pub(crate) enum Floor {
    /// Three network namespaces made and dropped (a test's host and two nodes), bare:
    /// no device, not even `lo` brought up.
    Namespaces,
    /// The pair topology built by `Net::build` in a fresh network namespace (the
    /// host) and dropped: everything of a test but its process, verdict and capture.
    Build,
}

impl Floor {
    fn name(self) -> &'static str {
        match self {
            Floor::Namespaces => "namespaces",
            Floor::Build => "build",
        }
    }
}

/// Busy time of all CPUs (user, nice, system, irq, softirq) from `/proc/stat`.
fn busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))
        .map(|rest| {
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            // user nice system idle iowait irq softirq steal ...
            [0, 1, 2, 5, 6].iter().filter_map(|i| f.get(*i)).sum()
        })
        .unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// Runs `f`, which makes `runs` runs, and returns its result with the CPU time (both
/// cores, kernel work included) per run. The kernel destroys namespaces in the
/// background after a run, so the count goes on for a moment after `f` returns (idle
/// time adds nothing). Anything else running on the machine counts too.
pub(crate) fn with_cpu<T>(runs: usize, f: impl FnOnce() -> T) -> (T, Duration) {
    let before = busy();
    let out = f();
    std::thread::sleep(Duration::from_millis(500));
    let spent = busy().saturating_sub(before);
    (out, spent / runs.max(1) as u32)
}

/// `runs` runs of `floor` in a re-executed, isolated copy of this binary, each timed
/// there; with the CPU per run (the copy's start included, about 0.03 ms a run over
/// 200).
pub(crate) fn measure(floor: Floor, runs: usize) -> (Vec<Duration>, Duration) {
    with_cpu(runs, || {
        crate::nanos_in_copy(FLOOR_ENV, &format!("{}:{runs}", floor.name()))
            .unwrap_or_else(|e| panic!("the floor child failed: {e}"))
    })
}

/// In a floor child (this binary started by [`measure`]): runs the floor, prints
/// each run's time in nanoseconds, and exits. Returns when this is not a floor child.
pub(crate) fn child_main() {
    let Ok(spec) = std::env::var(FLOOR_ENV) else {
        return;
    };
    let (mode, runs) = spec.split_once(':').expect("MODE:RUNS");
    let runs: usize = runs.parse().expect("a number of runs");
    if let Err(e) = netns_test::isolate() {
        eprintln!("floor: {e}");
        std::process::exit(1);
    }
    let run: fn() -> Duration = match mode {
        "namespaces" => three_namespaces,
        "build" => build_pair,
        other => panic!("unknown floor {other}"),
    };
    for _ in 0..runs {
        println!("{}", run().as_nanos());
    }
    std::process::exit(0);
}

fn this_netns() -> File {
    File::open("/proc/thread-self/ns/net").expect("open own network namespace")
}

fn three_namespaces() -> Duration {
    let host = this_netns();
    let t = Instant::now();
    let made: Vec<File> = (0..3)
        .map(|_| {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            this_netns()
        })
        .collect();
    setns(&host, CloneFlags::CLONE_NEWNET).expect("setns back");
    drop(made);
    t.elapsed()
}

fn build_pair() -> Duration {
    let topology = netns_test::topology::parse(&topo::pair(), "<bench>").expect("pair");
    std::thread::scope(|s| {
        s.spawn(|| {
            let t = Instant::now();
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            let net = netns_test::Net::build(topology).expect("build the pair");
            drop(net);
            t.elapsed()
        })
        .join()
        .expect("the build thread panicked")
    })
}
