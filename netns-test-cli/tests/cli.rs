//! The `netns-test` binary driven as a user drives it: scenario runs that pass and
//! fail, `check` on a malformed file, `graph` output that Graphviz accepts, `up` fed
//! through a pipe, `exec` and `doctor`. Commands run from the workspace root, so paths
//! in the output read as a user would type them.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the binary with `args` from the workspace root. Traces of failing scenarios go
/// under cargo's target directory, not the default `$TMPDIR/netns-test`, so that the
/// tests leave nothing behind in `/tmp`.
fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netns-test"))
        .args(args)
        .current_dir(root())
        .env(
            "NETNS_TEST_ARTIFACTS",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-artifacts"),
        )
        .stdin(Stdio::null())
        .output()
        .expect("the netns-test binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that `hay` contains every needle, showing all of `hay` if not.
fn has(hay: &str, needles: &[&str]) {
    for n in needles {
        assert!(hay.contains(n), "missing {n:?} in:\n{hay}");
    }
}

const FAILING: &str = "netns-test-cli/tests/data/failing.toml";
const MALFORMED: &str = "netns-test-cli/tests/data/malformed.toml";
const RELINKED: &str = "netns-test-cli/tests/data/relinked.toml";

#[test]
fn run_a_passing_scenario_reports_every_step() {
    let out = cli(&["run", "fixtures/s4.toml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    has(
        &stdout,
        &[
            "fixtures/s4.toml: 3 nodes + host, 2 links, 0 bridges; built in ",
            "  [1/7] ping ns1 -> 192.168.2.2: reply, ttl 63 ... ok (",
            "  [3/7] path ns1 -> ns2 (192.168.2.2): 192.168.1.1, 192.168.2.2 ... ok (",
            "  [5/7] connect tcp ns1 -> 192.168.2.2:8080: accepted ... ok (",
            "  [7/7] connect udp ns1 -> 192.168.2.2:8081: refused ... ok (",
            "fixtures/s4.toml: ok. 7 steps passed, 0 failed (",
        ],
    );
}

#[test]
fn run_a_failing_scenario_says_which_step_what_was_expected_and_what_happened() {
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-failing");
    let trace = artifacts.join("scenarios/failing/trace.pcapng");
    let _ = std::fs::remove_file(&trace);
    let out = Command::new(env!("CARGO_BIN_EXE_netns-test"))
        .args(["run", FAILING])
        .current_dir(root())
        .env("NETNS_TEST_ARTIFACTS", &artifacts)
        .env_remove("NETNS_TEST_CAPTURE")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    has(
        &stdout,
        &[
            "  [1/3] ping ns1 -> ns2 (192.168.1.2): reply, ttl 64 ... ok (",
            "  [2/3] ping ns1 -> 192.168.1.2: reply, ttl 63 ... FAILED (",
            &format!("      step 2 at {FAILING}:16\n"),
            "      expected: a reply with ttl 63\n      got:      reply from 192.168.1.2, ttl 64\n",
            "  [3/3] ping ns2 -> ns1 (192.168.1.1): reply ... not run\n",
            &format!("{FAILING}: FAILED. 1 step passed, 1 failed, 1 not run ("),
            &format!("written to {}\n", trace.display()),
            "ns1/veth-ns1 Out IP 192.168.1.1 > 192.168.1.2: ICMP echo request",
        ],
    );
    let pcapng = std::fs::read(&trace).expect("the trace is written");
    assert_eq!(
        pcapng.get(..4),
        Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]),
        "a pcapng section header"
    );
}

#[test]
fn run_keep_going_runs_the_steps_after_a_failure() {
    let out = cli(&["run", "--keep-going", FAILING]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    has(
        &stdout,
        &["  [3/3] ping ns2 -> ns1 (192.168.1.1): reply ... ok ("],
    );
}

#[test]
fn a_reachability_failure_after_a_link_step_names_the_dropped_routes() {
    let out = cli(&["run", "--keep-going", RELINKED]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    has(
        &stdout,
        &[
            "  [3/6] ping ns1 -> ns2 (192.168.2.2): reply, ttl 63 ... FAILED (",
            "      got:      unreachable: Network is unreachable",
            "                note: step 2 set ns1:veth-ns1 up with `link`; the routes \
             through it, which the kernel dropped when it went down, stay dropped: \
             `restore = \"ns1:veth-ns1\"` puts the link back with them\n",
            // After `restore` the route is back, and a failure has no note.
            "  [5/6] ping ns1 -> ns2 (192.168.2.2): reply, ttl 63 ... ok (",
            "  [6/6] ping ns1 -> ns2 (192.168.2.2): reply, ttl 64 ... FAILED (",
            "      got:      reply from 192.168.2.2, ttl 63\nnetns-test-cli/tests/data/relinked.toml: \
             FAILED. 4 steps passed, 2 failed (",
        ],
    );
    // Step 3's failure, in the run and in the summary after it; not step 6's.
    assert_eq!(stdout.matches("note: step 2").count(), 2, "{stdout}");
}

#[test]
fn run_several_files_each_in_its_own_network_with_a_summary() {
    // s4 and s4-host-router use the same names and addresses: they only both pass
    // because each runs in namespaces of its own.
    let out = cli(&[
        "run",
        "fixtures/s4.toml",
        FAILING,
        "fixtures/s4-host-router.toml",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    has(
        &stdout,
        &[
            "fixtures/s4-host-router.toml: ok. 14 steps passed, 0 failed (",
            &format!("FAILED: {FAILING}\n"),
            "scenarios: 2 passed, 1 failed, 0 not built (",
        ],
    );
}

#[test]
fn check_prints_the_parser_diagnostics_exactly() {
    let out = cli(&["check", MALFORMED]);
    assert_eq!(out.status.code(), Some(1));
    let expected = "\
error: `ns3` is neither an IP address nor a node
 --> netns-test-cli/tests/data/malformed.toml:8:29
  |
8 | ping = { from = \"ns1\", to = \"ns3\", expect = \"replied\" }
  |                             ^^^^^
  = help: write an address like `192.168.1.2`, or one of the nodes: host, ns1, ns2

error: unknown ping expectation `replied`
 --> netns-test-cli/tests/data/malformed.toml:8:45
  |
8 | ping = { from = \"ns1\", to = \"ns3\", expect = \"replied\" }
  |                                             ^^^^^^^^^
  = help: write one of: reply, unreachable, timeout

netns-test: invalid: 1 of 1 file(s)
";
    assert_eq!(text(&out.stderr), expected);
    // The same text the macro reports at compile time: both are the parser's Display.
    let src = std::fs::read_to_string(root().join(MALFORMED)).unwrap();
    let err = netns_test_topology::parse(&src, MALFORMED).unwrap_err();
    assert!(expected.starts_with(&err.to_string()));
}

#[test]
fn check_accepts_every_fixture_and_counts_what_it_has() {
    let out = cli(&["check", "fixtures/s1.toml", "fixtures/s6.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "ok: fixtures/s1.toml (2 nodes + host, 1 links, 0 bridges, 0 devices, 9 checks)\n\
         ok: fixtures/s6.toml (6 nodes + host, 5 links, 2 bridges, 0 devices, 3 checks)\n"
    );
}

#[test]
fn check_names_an_unreadable_file() {
    let out = cli(&["check", "fixtures/nope.toml"]);
    assert_eq!(out.status.code(), Some(1));
    has(
        &text(&out.stderr),
        &["netns-test: reading topology file fixtures/nope.toml: No such file or directory"],
    );
}

fn dot_available() -> bool {
    let found = Command::new("dot")
        .arg("-V")
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipped: Graphviz's `dot` is not installed (apt-get install graphviz)");
    }
    found
}

#[test]
fn graph_dot_output_is_accepted_by_graphviz() {
    let out = cli(&["graph", "--format", "dot", "fixtures/s6.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let dot = text(&out.stdout);
    has(
        &dot,
        &[
            "graph \"fixtures/s6.toml\" {",
            "\"host-a/br0\" [shape=ellipse",
            "\"a-ns1\" -- \"host-a/br0\" [taillabel=\"eth0\\n192.168.1.2/24\", headlabel=\"veth-a-ns1\"]",
            "\"host-a\" -- \"host-b\" [taillabel=\"eth0\\n10.0.2.15/24\", headlabel=\"eth0\\n10.0.2.16/24\"]",
        ],
    );
    if !dot_available() {
        return;
    }
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let svg = child.wait_with_output().unwrap();
    assert!(
        svg.status.success(),
        "dot rejected it: {}",
        text(&svg.stderr)
    );
    assert!(
        text(&svg.stderr).is_empty(),
        "dot warned: {}",
        text(&svg.stderr)
    );
    has(
        &text(&svg.stdout),
        &["<svg", "br0 (bridge)", "10.0.2.16/24"],
    );
}

#[test]
fn graph_svg_goes_through_dot() {
    if !dot_available() {
        return;
    }
    let out = cli(&["graph", "-f", "svg", "fixtures/s3.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    has(&text(&out.stdout), &["<svg", "virtual&#45;bridge (bridge)"]);
}

#[test]
fn graph_text_draws_links_bridges_and_routes() {
    let out = cli(&["graph", "fixtures/s5.toml"]);
    assert_eq!(out.status.code(), Some(0));
    has(
        &text(&out.stdout),
        &[
            "  ns1 [veth-ns1 192.168.1.2/24] <--veth--> [veth-ns1-br] host:br0 (bridge)\n",
            "  host [enp0s3 10.0.2.15/24] <--veth--> [eth0 10.0.2.1/24] outside\n",
            "bridge host:br0 192.168.1.1/24\n  +-- port veth-ns1-br\n",
            "  ns1\n    route default via 192.168.1.1\n",
        ],
    );
}

/// `netns-test up FILE` with `script` on its standard input.
fn up_with(file: &str, script: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netns-test"))
        .args(["up", file])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Ctrl-C, as a terminal sends it (SIGINT to the whole foreground process group),
/// stops the command running in a node and leaves the prompt and its topology up.
#[test]
fn up_survives_ctrl_c_and_the_command_does_not() {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_netns-test"))
        .args(["up", "fixtures/s1.toml"])
        .current_dir(root())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ns1 sleep 30\n").unwrap();
    // Time to build and to start the sleep; then Ctrl-C to the group.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let group = format!("-{}", child.id());
    let kill = Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    assert!(kill.success());
    stdin.write_all(b"nodes\nexit\n").unwrap();
    drop(stdin);
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the sleep was not interrupted"
    );
    has(
        &stdout,
        &["(sleep exited with signal: 2 (SIGINT))", "host\nns1\nns2\n"],
    );
}

#[test]
fn up_reads_commands_from_a_pipe() {
    let script = "nodes\n\
                  addrs\n\
                  ns1 echo peer is ns2\n\
                  down ns1 veth-ns1\n\
                  links\n\
                  frobnicate\n\
                  ns2 sh -c 'exit 3'\n\
                  exit\n\
                  nodes\n";
    let out = up_with("fixtures/s1.toml", script);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    has(
        &stdout,
        &[
            "fixtures/s1.toml is up: nodes host, ns1, ns2.",
            "host\nns1\nns2\n",
            "ns1          veth-ns1         192.168.1.1/24",
            "peer is 192.168.1.2\n",
            "ns1:veth-ns1 is down\n",
            "ns1          veth-ns1         DOWN",
            "ns2          veth-ns2         NO-CARRIER",
            "(sh exited with exit status: 3)",
        ],
    );
    assert_eq!(
        stdout.matches("host\nns1\nns2\n").count(),
        1,
        "nothing runs after exit"
    );
    has(
        &stderr,
        &[
            "error: unknown command or node `frobnicate`; nodes: host, ns1, ns2; type `help` for commands",
        ],
    );
}

#[test]
fn exec_runs_one_command_in_a_node_and_passes_its_status_on() {
    let out = cli(&[
        "exec",
        "fixtures/s1.toml",
        "ns1",
        "--",
        "sh",
        "-c",
        "ls /sys/class/net; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let names: Vec<String> = text(&out.stdout)
        .lines()
        .filter(|n| !netns_test::FALLBACK_TUNNELS.contains(n))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        names,
        ["lo", "veth-ns1"],
        "the node's own interfaces, nobody else's"
    );
}

#[test]
fn exec_names_an_unknown_node() {
    let out = cli(&["exec", "fixtures/s1.toml", "ns9", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    has(
        &text(&out.stderr),
        &["netns-test: no node named `ns9` in this topology (nodes: host, ns1, ns2)"],
    );
}

#[test]
fn doctor_prints_a_row_per_feature() {
    let out = cli(&["doctor"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    has(
        &stdout,
        &[
            "AREA       FEATURE          STATUS    DETAIL\n",
            "userns     user namespaces  ok ",
        ],
    );
    // veth and bridge are what every topology needs; this suite runs, so they exist.
    has(
        &stdout,
        &[
            "link       veth             ok        CONFIG_VETH\n",
            "link       bridge           ok        CONFIG_BRIDGE\n",
        ],
    );
    for (name, config) in netns_test::probe::LINK_KINDS
        .iter()
        .chain(netns_test::probe::QDISCS)
    {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name));
        let row = row.unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"));
        assert!(row.contains(config), "{row}");
        // `unknown` when the probe itself cannot tell, e.g. /dev/net/tun closed to
        // this user; the row then says why.
        assert!(
            row.contains(" ok ") || row.contains(" MISSING ") || row.contains(" unknown "),
            "{row}"
        );
    }
    has(&stdout, &["firewall   nftables ", "socket     AF_PACKET "]);
}

#[test]
fn up_cuts_and_restores_links_with_their_routes() {
    // The route ns1 has through the router, looked at before, after a plain down and
    // up (which loses it), and after `restore` (which puts it back).
    let script = "routes\n\
                  down ns1 veth-ns1\n\
                  up ns1 veth-ns1\n\
                  routes\n\
                  restore ns1:veth-ns1\n\
                  routes\n\
                  cut ns2:veth-ns2\n\
                  partition ns1\n\
                  links\n\
                  heal\n\
                  links\n\
                  cut ns1:eth9\n\
                  partition\n\
                  exit\n";
    let out = up_with("fixtures/s4.toml", script);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let route = "192.168.2.0/24 via 192.168.1.1 dev veth-ns1";
    let (before_up, after_up) = stdout
        .split_once("ns1:veth-ns1 is up\n")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(before_up.matches(route).count(), 1, "{stdout}");
    let (after_up, after_restore) = after_up
        .split_once("the link of ns1:veth-ns1 is back, with its addresses and routes\n")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(after_up.matches(route).count(), 0, "{stdout}");
    has(
        after_up,
        &[
            "(routes through it that the kernel dropped when it went down stay dropped: \
           `restore ns1:veth-ns1` puts the link back with them)\n",
        ],
    );
    has(
        after_restore,
        &[
            route,
            "the link of ns2:veth-ns2 is cut\n",
            "cut ns1:veth-ns1 <-> ns-router:veth-ns1-router\n",
            "ns1          veth-ns1         DOWN",
            "every cut link is back\n",
        ],
    );
    let healed = after_restore
        .split_once("every cut link is back\n")
        .map_or("", |(_, h)| h);
    has(
        healed,
        &[
            "ns1          veth-ns1         UP",
            "ns2          veth-ns2         UP",
        ],
    );
    has(
        &stderr,
        &[
            "error: `ns1:eth9` is not an end of a veth link of this topology",
            "error: usage: partition NODE [NODE...]",
        ],
    );
}
