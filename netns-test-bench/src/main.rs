//! netns-test's benchmark. Prints, for each scenario, the median, min and max over
//! repeated runs, beside the comparisons run in the same process: the seeds' shell way
//! (`ip netns`, one process per step), `ip -batch`, and Mininet when it is installed
//! (run in a private network namespace, like the shell way: nothing is built in the
//! machine's own); with `--features peers`, also the Rust peers gateflow and patchbay
//! (`peers.rs`).
//!
//! ```text
//! cargo run --release -p netns-test-bench            # two or three minutes
//! cargo run --release -p netns-test-bench -- --quick # half a minute
//! cargo run --release -p netns-test-bench --features peers -- --quick
//! # one scenario, each run printed; optionally a pause (ms) between runs
//! cargo run --release -p netns-test-bench -- --only pair 200 --pause 30
//! ```
//!
//! Each netns-test row goes through exactly the path a `#[netns_test]` takes: the
//! benchmark calls the same entry point, which re-executes this binary as the test's
//! isolated child (this `main` recognises the child and runs it), builds the topology,
//! runs a no-op body and reports back. Timed from the call to the verdict, teardown
//! (the child's exit) included.
//!
//! Most rows also give the CPU time a run took over both cores, the kernel's
//! background teardown included (`floor.rs`), and the two-node test has rows that
//! show how much of it is the kernel's: its network built in one process with no
//! process per test, its three network namespaces alone, and its whole process as
//! nextest times a test; and rows with the capture off, in a copy of this binary
//! started with `NETNS_TEST_CAPTURE=never`, as a user would switch it off, and with the
//! network not built ahead of the test (`NETNS_TEST_BUILD_AHEAD=0`). Its ratio to
//! the shell way is given twice: from the rows measured one after the other, and from
//! rounds in which the two take turns, so that a change in the machine's speed during
//! the run touches both alike.
//!
//! The last rows are the capture's cost on traffic (`traffic.rs`): bulk TCP and paced
//! UDP over the pair, with the capture off and on.

mod floor;
#[cfg(feature = "peers")]
mod peers;
mod shell;
mod stats;
mod topo;
mod traffic;

use std::time::{Duration, Instant};

use netns_test::__private::{Outcome, TestSpec, run_test};

use crate::stats::{Row, Table};

/// The variable the runtime sets in a test's child (the runner's `CHILD_ENV`).
const CHILD_ENV: &str = "__NETNS_TEST_CHILD";
/// The variable the runtime sets in its fork server (`forkserver::SERVER_ENV`).
const SERVER_ENV: &str = "__NETNS_TEST_FORK_SERVER";

/// Registers scenario `$name` the way `#[netns_test]` registers a test, so that the
/// fork server can run it.
macro_rules! scenario {
    ($entry:ident, $name:literal) => {
        fn $entry() {
            run_test(&spec_for($name), body_for($name));
        }
        netns_test::__private::inventory::submit! {
            netns_test::__private::Registered {
                module_path: "bench::scenario",
                name: $name,
                run: $entry,
                plain_host: true,
                topology: || {
                    static SPEC: std::sync::OnceLock<TestSpec> = std::sync::OnceLock::new();
                    let spec = SPEC.get_or_init(|| spec_for($name));
                    (spec.topology, spec.origin)
                },
                ignored: false,
            }
        }
    };
}
scenario!(pair_entry, "pair");
scenario!(pairping_entry, "pairping");
scenario!(chain3_entry, "chain3");
scenario!(chain100_entry, "chain100");
scenario!(chain1000_entry, "chain1000");
scenario!(tcp_entry, "tcp");
scenario!(udp_entry, "udp");

/// A scenario the child can rebuild from its name alone.
fn topology_for(name: &str) -> Option<String> {
    let rest = name.strip_prefix("scenario::")?;
    if ["pair", "pairping", "tcp", "udp"].contains(&rest) {
        return Some(topo::pair());
    }
    let n: usize = rest.strip_prefix("chain")?.parse().ok()?;
    Some(topo::chain(n))
}

fn spec_for(name: &'static str) -> TestSpec {
    let text = topology_for(&format!("scenario::{name}")).unwrap_or_default();
    TestSpec {
        module_path: "bench::scenario",
        name,
        topology: Box::leak(text.into_boxed_str()),
        origin: "<bench>",
    }
}

fn noop(_: &netns_test::Net) -> Outcome {
    Outcome::Pass
}

/// The S1 walk-through's checks: a ping each way.
fn ping_both_ways(net: &netns_test::Net) -> Outcome {
    for (from, to) in [("ns1", "192.168.1.2"), ("ns2", "192.168.1.1")] {
        if let Err(e) = net.node(from).ping(to) {
            return Outcome::Fail(vec![e.to_string()]);
        }
    }
    Outcome::Pass
}

fn body_for(name: &str) -> fn(&netns_test::Net) -> Outcome {
    match name {
        "pairping" => ping_both_ways,
        "tcp" => traffic::tcp_bulk,
        "udp" => traffic::udp_paced,
        _ => noop,
    }
}

/// This binary, to be started again (a floor, a traffic run, a whole process).
fn this_binary() -> std::process::Command {
    std::process::Command::new(std::env::current_exe().expect("the benchmark's own path"))
}

/// One isolated test, timed from the call to the verdict, on a thread of its own as
/// libtest runs each test (the runner gives that thread a private descriptor table,
/// which a thread reused for every test would carry from one test to the next).
fn one(spec: &TestSpec) -> Duration {
    std::thread::scope(|s| {
        s.spawn(|| {
            let t = Instant::now();
            run_test(spec, body_for(spec.name));
            t.elapsed()
        })
        .join()
        .expect("the test thread panicked")
    })
}

/// The two-node test and the shell way taking turns: `rounds` rounds of `ours` runs of
/// the one, then `shell` runs of the other (root only). Returns the pooled runs of each.
fn taking_turns(
    pair: &TestSpec,
    rounds: usize,
    ours: usize,
    shell: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.extend((0..ours).map(|_| one(pair)));
        b.extend(shell::repeat_pair_shell(shell));
    }
    (a, b)
}

fn repeat(spec: &TestSpec, n: usize) -> Vec<Duration> {
    one(spec); // warm the page cache and the binary
    (0..n).map(|_| one(spec)).collect()
}

/// The largest peak RSS among the children waited for so far (the per-test children
/// included: the kernel counts grandchildren that were waited for). It survives
/// `execve`: under `cargo run`, which execs this binary, it starts at the largest
/// `rustc` that cargo waited for (hundreds of megabytes), so [`child_peak_rss_kib`]
/// reads it in a copy of this binary instead.
fn max_rss_children_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(-1)
}

fn self_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// netns-test's benchmark: per-test cost side by side with the shell way, `ip -batch`,
/// Mininet and, built with `--features peers`, gateflow and patchbay, in one run. Prints
/// a table of medians, minimums, maximums and CPU per run, then the ratios and the
/// capture's cost on traffic (TCP and UDP over a veth, capture off and on). Build it in
/// release mode: `cargo run --release -p netns-test-bench [--features peers] --
/// [OPTIONS]`.
#[derive(clap::Parser)]
#[command(name = "netns-test-bench", version)]
struct Args {
    /// Fewer runs of each scenario: half a minute instead of two or three.
    #[arg(long, conflicts_with = "only")]
    quick: bool,
    /// Only one scenario (pair, pairping, or chainN for N nodes in a line), RUNS times
    /// (8 unless given), each run's time printed: an aid for profiling.
    #[arg(long, num_args = 1..=2, value_names = ["NAME", "RUNS"])]
    only: Option<Vec<String>>,
    /// With --only: milliseconds to wait between runs, so that each starts after the
    /// kernel has torn down the ones before.
    #[arg(long, value_name = "MS", requires = "only")]
    pause: Option<u64>,
    /// With --only: the runs on this many threads at once, as libtest's
    /// `--test-threads` runs a suite; the whole run's wall time is printed last.
    #[arg(long, value_name = "N", requires = "only", conflicts_with = "pause")]
    threads: Option<usize>,
}

fn main() {
    floor::child_main();
    if let Ok(name) = std::env::var(CHILD_ENV).or_else(|_| std::env::var(SERVER_ENV)) {
        // The isolated child of one scenario run, or the fork server.
        let Some(local) = name.strip_prefix("scenario::") else {
            std::process::exit(2)
        };
        let spec = spec_for(Box::leak(local.to_owned().into_boxed_str()));
        run_test(&spec, body_for(local));
        std::process::exit(3); // run_test never returns in the child
    }
    traffic::child_main();
    #[cfg(feature = "peers")]
    peers::child_main();
    let args = <Args as clap::Parser>::parse();
    if let Some(only) = &args.only {
        // Profiling aid: one scenario, each run printed; with a pause between runs,
        // each starts after the kernel has torn down the ones before.
        let name = only.first().map_or("pair", String::as_str);
        // tcp and udp fail on purpose (with their figures): the full run shows them.
        let unknown = if ["tcp", "udp"].contains(&name) {
            Some(format!(
                "scenario '{name}' is not timed per run: its figures are the capture \
                 rows of a full run (or --quick)"
            ))
        } else if topology_for(&format!("scenario::{name}")).is_none() {
            Some(format!(
                "unknown scenario '{name}' for '--only'; use pair, pairping or chainN (N \
                 nodes in a line, e.g. chain100)"
            ))
        } else {
            None
        };
        if let Some(message) = unknown {
            <Args as clap::CommandFactory>::command()
                .error(clap::error::ErrorKind::InvalidValue, message)
                .exit();
        }
        let count = match only.get(1).map(|c| c.parse::<usize>()) {
            None => 8,
            Some(Ok(n)) => n,
            Some(Err(_)) => <Args as clap::CommandFactory>::command()
                .error(
                    clap::error::ErrorKind::InvalidValue,
                    format!("'{}' is not a number of runs for '--only {name}'", only[1]),
                )
                .exit(),
        };
        let spec = spec_for(Box::leak(name.to_owned().into_boxed_str()));
        let pause = args.pause.map(Duration::from_millis);
        // With NEXTEST_EXECUTION_MODE=process-per-test, as one test a process.
        let alone = std::env::var_os("NEXTEST_EXECUTION_MODE").is_some();
        if let Some(threads) = args.threads {
            let wall = suite_wall(&spec, count, threads.max(1), |t| {
                println!("{name}: {:.2} ms", t.as_secs_f64() * 1e3);
            });
            println!("wall: {:.3} s", wall.as_secs_f64());
            return;
        }
        for _ in 0..count {
            let t = if alone { one_alone(&spec) } else { one(&spec) };
            println!("{name}: {:.2} ms", t.as_secs_f64() * 1e3);
            if let Some(p) = pause {
                std::thread::sleep(p);
            }
        }
        if std::env::var_os(CHILD_RSS_ENV).is_some() {
            println!("{CHILD_RSS_LINE}{} KiB", max_rss_children_kib());
        }
        return;
    }
    let quick = args.quick;
    let root = nix_is_root();
    if let Some(message) = shell::missing_tools(root) {
        <Args as clap::CommandFactory>::command()
            .error(clap::error::ErrorKind::MissingRequiredArgument, message)
            .exit();
    }
    let (n_pair, n_chain, n_big, suite) = if quick {
        (30, 3, 1, 50)
    } else {
        (200, 10, 3, 200)
    };
    let mut table = Table::default();

    let pair = spec_for("pair");
    let ping = spec_for("pairping");
    // Re-executing the test binary per test is what the fork server saves;
    // NETNS_TEST_FORK_SERVER=0 still works that way. Under nextest's process-per-test
    // mode the runner clones each child itself, once per process: each of those runs
    // starts when the previous one's threads have ended, as in a fresh process.
    let timed = |spec: &TestSpec| floor::with_cpu(n_pair + 1, || repeat(spec, n_pair));
    let ((ours_exec, ours_exec_cpu), (ours_ping_exec, ours_ping_exec_cpu)) =
        without_fork_server(|| (timed(&pair), timed(&ping)));
    let timed_alone = |spec: &TestSpec| floor::with_cpu(n_pair + 1, || repeat_alone(spec, n_pair));
    let ((ours_direct, ours_direct_cpu), (ours_ping_direct, ours_ping_direct_cpu)) =
        with_direct_start(|| (timed_alone(&pair), timed_alone(&ping)));
    let (ours, ours_cpu) = timed(&pair);
    table.push(Row::new("two nodes, one veth: netns-test (whole test)", &ours).cpu(ours_cpu));
    let (no_capture, no_capture_cpu) =
        floor::with_cpu(n_pair + 1, || only_in_copy("pair", n_pair, &[NO_CAPTURE]));
    table.push(
        Row::new(
            "  the same, capture off (NETNS_TEST_CAPTURE=never)",
            &no_capture,
        )
        .cpu(no_capture_cpu),
    );
    // By default a warm child builds the network of the test expected next: here,
    // asked for the same test again and again, that test once it was asked for twice
    // in a row. NETNS_TEST_BUILD_AHEAD=0 leaves the build to the test.
    let (not_ahead, not_ahead_cpu) =
        floor::with_cpu(n_pair + 1, || only_in_copy("pair", n_pair, &[NOT_AHEAD]));
    table.push(
        Row::new(
            "  the same, network not built ahead (NETNS_TEST_BUILD_AHEAD=0)",
            &not_ahead,
        )
        .cpu(not_ahead_cpu),
    );
    table.push(
        Row::new(
            "  the same, cloned by the runner (nextest, one test a process)",
            &ours_direct,
        )
        .cpu(ours_direct_cpu),
    );
    // nextest times a test by its whole process: this binary started, the test, the
    // process's exit.
    let n_proc = n_pair.min(50);
    let whole = repeat_process(&["--only", "pair", "1"], &[NEXTEST], n_proc);
    table.push(Row::new(
        "    its whole process, as nextest times a test (start to exit)",
        &whole,
    ));
    let whole_no_capture = repeat_process(&["--only", "pair", "1"], &[NEXTEST, NO_CAPTURE], n_proc);
    table.push(Row::new(
        "    the same, capture off (NETNS_TEST_CAPTURE=never)",
        &whole_no_capture,
    ));
    let empty = repeat_process(&["--version"], &[], n_proc);
    table.push(Row::new(
        "    of which starting and ending this binary (--version)",
        &empty,
    ));
    table.push(
        Row::new(
            "  the same, re-executed child (fork server off)",
            &ours_exec,
        )
        .cpu(ours_exec_cpu),
    );
    // How much of that is the kernel's: the same network without a test process.
    let (build_alone, build_alone_cpu) = floor::measure(floor::Floor::Build, n_pair);
    table.push(
        Row::new(
            "  its network alone: host + pair by Net::build in one process",
            &build_alone,
        )
        .cpu(build_alone_cpu),
    );
    let (namespaces, namespaces_cpu) = floor::measure(floor::Floor::Namespaces, n_pair);
    table.push(
        Row::new(
            "  kernel floor: its 3 network namespaces, bare, by unshare",
            &namespaces,
        )
        .cpu(namespaces_cpu),
    );
    let (ours_ping, ours_ping_cpu) = timed(&ping);
    table.push(Row::new("S1 with a ping each way: netns-test", &ours_ping).cpu(ours_ping_cpu));
    table.push(
        Row::new(
            "  the same, cloned by the runner (nextest, one test a process)",
            &ours_ping_direct,
        )
        .cpu(ours_ping_direct_cpu),
    );
    table.push(
        Row::new(
            "  the same, re-executed child (fork server off)",
            &ours_ping_exec,
        )
        .cpu(ours_ping_exec_cpu),
    );
    if root {
        let n_shell = n_pair.min(50);
        let (shell, shell_cpu) = floor::with_cpu(n_shell, || shell::repeat_pair_shell(n_shell));
        table.push(Row::new("two nodes, one veth: shell way (ip netns)", &shell).cpu(shell_cpu));
        table.ratio("shell way / netns-test, build only", &shell, &ours);
        table.cpu_ratio("shell way / netns-test, build only", shell_cpu, ours_cpu);
        table.ratio(
            "shell way / netns-test, build only, network not built ahead",
            &shell,
            &not_ahead,
        );
        table.ratio(
            "shell way / netns-test under nextest, build only",
            &shell,
            &ours_direct,
        );
        // The rows above are blocks measured seconds apart, and the machine's speed
        // can change in between; taking turns, a change touches both alike.
        let rounds = if quick { 5 } else { 10 };
        let (turns_ours, turns_shell) =
            taking_turns(&pair, rounds, n_pair / rounds, n_shell / rounds);
        table.push(Row::new(
            &format!("two nodes, one veth, in {rounds} rounds taking turns: netns-test"),
            &turns_ours,
        ));
        table.push(Row::new(
            "  the same rounds: shell way (ip netns)",
            &turns_shell,
        ));
        table.ratio(
            "shell way / netns-test, build only, taking turns",
            &turns_shell,
            &turns_ours,
        );
        let (documents_build, documents_build_cpu) =
            floor::with_cpu(n_shell, || shell::repeat_pair_documents_build(n_shell));
        table.push(
            Row::new(
                "two nodes, one veth, as the documents write it (ip netns exec)",
                &documents_build,
            )
            .cpu(documents_build_cpu),
        );
        table.ratio(
            "documents' shell way / netns-test, build only",
            &documents_build,
            &ours,
        );
        table.cpu_ratio(
            "documents' shell way / netns-test, build only",
            documents_build_cpu,
            ours_cpu,
        );
        let (shell_ping, shell_ping_cpu) =
            floor::with_cpu(n_shell, || shell::repeat_pair_shell_ping(n_shell));
        table.push(
            Row::new(
                "S1 with a ping each way: shell way (ip netns, ping)",
                &shell_ping,
            )
            .cpu(shell_ping_cpu),
        );
        table.ratio(
            "shell way / netns-test, S1 walk-through",
            &shell_ping,
            &ours_ping,
        );
        table.ratio(
            "shell way / netns-test under nextest, S1 walk-through",
            &shell_ping,
            &ours_ping_direct,
        );
        let (documents, documents_cpu) =
            floor::with_cpu(n_shell, || shell::repeat_pair_documents(n_shell));
        table.push(
            Row::new("S1 as the documents write it (ip netns exec)", &documents).cpu(documents_cpu),
        );
        table.ratio(
            "documents' shell way / netns-test, S1 walk-through",
            &documents,
            &ours_ping,
        );
        table.cpu_ratio(
            "documents' shell way / netns-test, S1 walk-through",
            documents_cpu,
            ours_ping_cpu,
        );
        match shell::repeat_mininet(if quick { 3 } else { 10 }) {
            Some(mn) => {
                table.push(Row::new(
                    "S1 with a ping each way: Mininet (two hosts, one link)",
                    &mn,
                ));
                table.ratio("Mininet / netns-test, S1 walk-through", &mn, &ours_ping);
            }
            None => table.note("Mininet: not installed (`apt install mininet` to compare)"),
        }
        let wrapper = shell::repeat_wrapper_only(n_shell);
        table.push(Row::new(
            "  of which the shell way's unshare+tmpfs wrapper",
            &wrapper,
        ));
    } else {
        table.note("shell way (ip netns) and Mininet: skipped, they need root");
    }
    #[cfg(feature = "peers")]
    {
        let (ours3, ours3_cpu) = timed(&spec_for("chain3"));
        peers::report(&mut table, n_pair.min(50), &ours, (&ours3, ours3_cpu));
    }
    #[cfg(not(feature = "peers"))]
    table.note(
        "Rust peers gateflow and patchbay: not built (`--features peers` adds them; they \
         need Rust 1.88)",
    );
    let unshare = shell::repeat_cmd(&["unshare", "-Urn", "true"], n_pair.min(50));
    table.push(Row::new("floor: unshare -Urn true", &unshare));

    let chain100 = spec_for("chain100");
    let (ours100, ours100_cpu) = floor::with_cpu(n_chain + 1, || repeat(&chain100, n_chain));
    table
        .push(Row::new("100-node chain: netns-test (build + teardown)", &ours100).cpu(ours100_cpu));
    let (batch, batch_cpu) = floor::with_cpu(n_chain, || shell::repeat_chain_batch(100, n_chain));
    table.push(Row::new("100-node chain: ip -batch in a user namespace", &batch).cpu(batch_cpu));
    table.ratio("netns-test / ip -batch", &ours100, &batch);

    // The kernel destroys a test's namespaces after it ended, in the background; a
    // thousand of them take seconds, and a build meanwhile waits for the same locks.
    // Each run here starts once that is over; a run straight after another is shown
    // apart.
    let chain1000 = spec_for("chain1000");
    let settle = || std::thread::sleep(Duration::from_secs(if quick { 3 } else { 8 }));
    settle();
    let (ours1000, released1000): (Vec<Duration>, Vec<Duration>) = (0..n_big)
        .map(|_| {
            let d = one(&chain1000);
            let released =
                netns_test::__private::wait_until_sockets_closed(Duration::from_secs(60));
            settle();
            (d, released)
        })
        .unzip();
    table.push(Row::new("1000-node chain: netns-test", &ours1000));
    table.push(Row::new(
        "  then until its capture sockets are closed (its namespaces freed)",
        &released1000,
    ));
    if quick {
        table.note("1000-node chain straight after another: not measured with --quick");
    } else {
        let back_to_back = [one(&chain1000), one(&chain1000)];
        table.push(Row::new(
            "  1000 nodes straight after another (kernel still tearing down)",
            &back_to_back[1..],
        ));
        settle();
    }

    let wall = suite_wall(&pair, suite, 2, |_| {});
    table.note(&format!(
        "{suite}-test suite of two-node tests on 2 threads: {:.2} s wall",
        wall.as_secs_f64()
    ));

    traffic::report(&mut table, quick);

    let runs = if quick { 100 } else { 1000 };
    let mut rss = vec![self_rss_kib()];
    for i in 1..=runs {
        one(&pair);
        if i % (runs / 4) == 0 {
            rss.push(self_rss_kib());
        }
    }
    let rss: Vec<String> = rss.iter().map(u64::to_string).collect();
    let child_rss = child_peak_rss_kib(n_pair.min(50)).map_or_else(
        || "unknown (the copy did not say)".to_owned(),
        |k| format!("{k} KiB"),
    );
    table.note(&format!(
        "memory: runner RSS (KiB) every {} of {runs} more tests: {}; largest peak RSS of a \
         re-executed test child {child_rss}",
        runs / 4,
        rss.join(", "),
    ));
    table.print();
}

/// The environment that makes a test binary run as under nextest's process-per-test
/// mode.
const NEXTEST: (&str, &str) = ("NEXTEST_EXECUTION_MODE", "process-per-test");
/// The environment that switches the capture off, as a user would.
const NO_CAPTURE: (&str, &str) = ("NETNS_TEST_CAPTURE", "never");
/// The environment that keeps warm children from building a test's network ahead.
const NOT_AHEAD: (&str, &str) = ("NETNS_TEST_BUILD_AHEAD", "0");

/// This binary run `n` times with `args` and `env`, each timed from spawn to exit.
fn repeat_process(args: &[&str], env: &[(&str, &str)], n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| shell::time(this_binary().args(args).envs(env.iter().copied())))
        .collect()
}

/// The times a copy of this binary started with `var=value` prints, one a line in
/// nanoseconds (a floor, a peer); its error output, or how it ended, if it failed.
fn nanos_in_copy(var: &str, value: &str) -> Result<Vec<Duration>, String> {
    let out = this_binary()
        .env(var, value)
        .output()
        .map_err(|e| format!("cannot re-execute the benchmark: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(last.map_or_else(|| out.status.to_string(), str::to_owned));
    }
    eprint!("{stderr}");
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .map(Duration::from_nanos)
        .collect())
}

/// The largest peak RSS of a re-executed two-node test's child (KiB), over `n` of them
/// run by a fresh copy of this binary, whose count of its children starts at zero;
/// `None` if the copy did not say.
fn child_peak_rss_kib(n: usize) -> Option<i64> {
    let out = only_output(
        "pair",
        n.max(1),
        &[("NETNS_TEST_FORK_SERVER", "0"), (CHILD_RSS_ENV, "1")],
    );
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        l.strip_prefix(CHILD_RSS_LINE)?
            .strip_suffix(" KiB")?
            .parse()
            .ok()
    })
}

/// A copy of this binary run as `--only name runs` with `env`, its error output shown.
fn only_output(name: &str, runs: usize, env: &[(&str, &str)]) -> std::process::Output {
    this_binary()
        .args(["--only", name, &runs.to_string()])
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("cannot re-execute the benchmark")
}

/// Set for a copy that should end `--only` with [`CHILD_RSS_LINE`].
const CHILD_RSS_ENV: &str = "NETNS_TEST_BENCH_CHILD_RSS";
const CHILD_RSS_LINE: &str = "largest peak RSS of a child: ";

/// `n` runs of scenario `name` in a copy of this binary started with `env` (settings a
/// test reads when it starts), after one to warm up: each as the copy timed it.
fn only_in_copy(name: &str, n: usize, env: &[(&str, &str)]) -> Vec<Duration> {
    let out = only_output(name, n + 1, env);
    assert!(out.status.success(), "--only {name} failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(": ")?
                .strip_suffix(" ms")
        })
        .filter_map(|ms| ms.parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .skip(1)
        .collect()
}

/// How long until this process is down to `threads` threads (at most `limit`): the
/// previous tests' capture and closer threads, which release their sockets, have
/// ended.
fn until_threads(threads: Option<usize>, limit: Duration) -> Duration {
    let t = Instant::now();
    while netns_test::__private::thread_count() > threads && t.elapsed() < limit {
        std::thread::sleep(Duration::from_micros(200));
    }
    t.elapsed()
}

/// Runs `f` with each test's child cloned by the runner, as under nextest's
/// process-per-test mode.
fn with_direct_start<T>(f: impl FnOnce() -> T) -> T {
    netns_test::__private::set_direct_start();
    let out = f();
    netns_test::__private::set_fork_server(true);
    out
}

/// [`one`], once this process is down to its main thread again (the previous run's
/// capture and closer threads have ended), as a fresh process would be.
fn one_alone(spec: &TestSpec) -> Duration {
    netns_test::__private::end_closer_threads(Duration::from_secs(1));
    until_threads(Some(1), Duration::from_secs(1));
    one(spec)
}

/// [`repeat`] with [`one_alone`].
fn repeat_alone(spec: &TestSpec, n: usize) -> Vec<Duration> {
    (0..=n).map(|_| one_alone(spec)).skip(1).collect()
}

/// Runs `f` with the fork server switched off: every test re-executes this binary.
fn without_fork_server<T>(f: impl FnOnce() -> T) -> T {
    netns_test::__private::set_fork_server(false);
    let out = f();
    netns_test::__private::set_fork_server(true);
    out
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `n` isolated tests on `threads` threads, like libtest with `--test-threads`,
/// telling `each` every test's time; returns the wall time.
fn suite_wall(
    spec: &TestSpec,
    n: usize,
    threads: usize,
    each: impl Fn(Duration) + Sync,
) -> Duration {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    each(one(spec));
                }
            });
        }
    });
    t.elapsed()
}
