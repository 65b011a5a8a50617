//! Failure forensics: a failing test leaves a pcapng of every interface of every node,
//! named `node/iface`, and its failure message ends with the last packets; a hung test
//! times out with its trace; a passing test writes nothing unless asked to.
//!
//! As in `teardown.rs`, the victims are `#[ignore]`d tests of this binary, run again
//! filtered to one victim; the checks read the trace back with `pcap-file`'s reader
//! (and with `tshark` when it is installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pcap_file::pcapng::{Block, PcapNgReader};

use crate::common::Scratch;
use crate::support::output_text as text;

mod victims {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use netns_test::{Net, netns_test};

    /// Set by the checks; without it every victim passes at once.
    pub(super) const ACTIVE: &str = "NETNS_TEST_CAPTURE_VICTIM";

    fn active() -> bool {
        std::env::var_os(ACTIVE).is_some()
    }

    /// Pings ns2 from ns1, then sends `hello` over TCP.
    fn traffic(net: &Net) {
        net.node("ns1").ping("192.168.1.2").unwrap();
        let listener = net
            .node("ns2")
            .run(|| TcpListener::bind("192.168.1.2:7000"))
            .unwrap();
        let mut client = net
            .node("ns1")
            .run(|| TcpStream::connect("192.168.1.2:7000"))
            .unwrap();
        client.write_all(b"hello from ns1").unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 14];
        conn.read_exact(&mut buf).unwrap();
    }

    #[netns_test(topology = "../fixtures/s1.toml", summary = 64)]
    #[ignore = "run by capture checks"]
    fn fails_after_traffic(net: &Net) {
        if active() {
            traffic(net);
            panic!("victim failed on purpose");
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    fn returns_err_after_ping(net: &Net) -> Result<(), Box<dyn std::error::Error>> {
        if active() {
            net.node("ns1").ping("192.168.1.2")?;
            return Err("victim returned Err on purpose".into());
        }
        Ok(())
    }

    #[netns_test(topology = "../fixtures/s1.toml", timeout = "2s")]
    #[ignore = "run by capture checks"]
    fn hangs_after_ping(net: &Net) {
        if active() {
            net.node("ns1").ping("192.168.1.2").unwrap();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml", capture = "always")]
    #[ignore = "run by capture checks"]
    fn passes_with_capture_always(net: &Net) {
        if active() {
            net.node("ns1").ping("192.168.1.2").unwrap();
        }
    }

    /// Under `#[should_panic(expected)]`, a panic with another message is a failure.
    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    #[should_panic(expected = "the expected words")]
    fn panics_with_another_message(net: &Net) {
        if active() {
            traffic(net);
            panic!("victim panicked with another message");
        }
        panic!("the expected words");
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    #[should_panic(expected = "the expected words")]
    fn panics_as_expected(net: &Net) {
        if active() {
            traffic(net);
        }
        panic!("victim said the expected words, as it should");
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    fn passes(net: &Net) {
        if active() {
            net.node("ns1").ping("192.168.1.2").unwrap();
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml", capture = "never")]
    #[ignore = "run by capture checks"]
    fn fails_with_capture_never(net: &Net) {
        if active() {
            net.node("ns1").ping("192.168.1.2").unwrap();
            panic!("victim failed on purpose");
        }
    }

    /// Byte `i` of the long message [`sends_a_long_message_and_fails`] sends.
    fn long_message_byte(i: usize) -> u8 {
        (i * 7 % 251) as u8
    }

    /// Sends `len` bytes of the long message over TCP from ns1 to ns2 (in segments of
    /// up to 64 KiB on the veth) and fails.
    fn send_long_message_and_fail(net: &Net, len: usize) {
        let listener = net
            .node("ns2")
            .run(|| TcpListener::bind("192.168.1.2:7001"))
            .unwrap();
        let reader = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            got.len()
        });
        let mut client = net
            .node("ns1")
            .run(|| TcpStream::connect("192.168.1.2:7001"))
            .unwrap();
        let message: Vec<u8> = (0..len).map(long_message_byte).collect();
        client.write_all(&message).unwrap();
        drop(client);
        assert_eq!(reader.join().unwrap(), message.len());
        panic!("victim failed on purpose");
    }

    /// 300 kB: a burst well under the default memory cap, so kept whole.
    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    fn sends_a_long_message_and_fails(net: &Net) {
        if active() {
            send_long_message_and_fail(net, 300_000);
        }
    }

    /// 16 MB with a memory cap of 64 KiB, so whole packets at up to 64 KiB a second:
    /// the capture keeps most of them cut, however slowly the machine moves them (with
    /// a 1 MiB cap, the software-emulated VM of `.ci/vm-lane` once cut only 51).
    #[netns_test(topology = "../fixtures/s1.toml", capture_limit = "64KiB")]
    #[ignore = "run by capture checks"]
    fn sends_bulk_past_the_whole_packet_rate_and_fails(net: &Net) {
        if active() {
            send_long_message_and_fail(net, 16_000_000);
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml", capture_limit = "4KiB", summary = 3)]
    #[ignore = "run by capture checks"]
    fn fails_over_the_memory_cap(net: &Net) {
        if active() {
            traffic(net);
            for _ in 0..20 {
                net.node("ns1").ping("192.168.1.2").unwrap();
            }
            panic!("victim failed on purpose");
        }
    }

    /// Starts a long-lived UDP echo server in ns2 on the node's runtime, talks to it
    /// from ns1, then dies of a signal (`abort`; as the namespace's PID 1 the child
    /// ignores SIGABRT, and glibc's abort then ends with SIGSEGV).
    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    fn aborts_after_talking_to_a_server(net: &Net) {
        if active() {
            let _server = net.node("ns2").spawn(async {
                let s = tokio::net::UdpSocket::bind("192.168.1.2:7300")
                    .await
                    .unwrap();
                let mut buf = [0u8; 1500];
                loop {
                    let (n, peer) = s.recv_from(&mut buf).await.unwrap();
                    s.send_to(&buf[..n], peer).await.unwrap();
                }
            });
            let reply = net.node("ns1").run(|| {
                let s = std::net::UdpSocket::bind("192.168.1.1:0").unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
                    .unwrap();
                let mut buf = [0u8; 64];
                // The server may not be bound yet: retry.
                for _ in 0..50 {
                    s.send_to(b"marco", "192.168.1.2:7300").unwrap();
                    if let Ok(n) = s.recv(&mut buf) {
                        return buf[..n].to_vec();
                    }
                }
                Vec::new()
            });
            assert_eq!(reply, b"marco");
            std::process::abort();
        }
    }

    /// Pings, then ends its process from the body with a status of its own.
    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    fn exits_from_its_body(net: &Net) {
        if active() {
            net.node("ns1").ping("192.168.1.2").unwrap();
            std::process::exit(3);
        }
    }

    /// The same with status 0, which a test that was not found also ends with.
    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by capture checks"]
    fn exits_zero_from_its_body(net: &Net) {
        if active() {
            net.node("ns1").ping("192.168.1.2").unwrap();
            std::process::exit(0);
        }
    }

    /// A bridge in `br` with two ports, and a spare veth pair whose `br` end moves to
    /// the host node while the test runs.
    #[netns_test(topology = r#"
        [nodes.a]
        [nodes.b]
        [nodes.br]
        [[bridges]]
        name = "br:br0"
        ports = ["pa", "pb"]
        [[links]]
        endpoints = [{ iface = "a:eth0", addresses = "10.0.0.1/24" }, "br:pa"]
        [[links]]
        endpoints = [{ iface = "b:eth0", addresses = "10.0.0.2/24" }, "br:pb"]
        [[links]]
        endpoints = [{ iface = "b:late1", addresses = "10.9.0.2/24" }, "br:late0"]
    "#)]
    #[ignore = "run by capture checks"]
    fn fails_on_a_bridge_after_moving_an_interface(net: &Net) {
        if active() {
            net.node("a").ping("10.0.0.2").unwrap();
            let br = net.node("br");
            br.move_interface("late0", net.host()).unwrap();
            net.host()
                .add_address("late0", "10.9.0.1/24".parse().unwrap())
                .unwrap();
            net.host().set_link_up("late0", true).unwrap();
            // The moved end needs a moment for carrier; retry the first ping.
            let mut ok = false;
            for _ in 0..50 {
                if net.host().ping("10.9.0.2").is_ok() {
                    ok = true;
                    break;
                }
            }
            assert!(ok, "host could not reach b over the moved interface");
            panic!("victim failed on purpose");
        }
    }
}

/// Runs `capture::victims::NAME`.
fn run_victim(name: &str, artifacts: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let path = format!("capture::victims::{name}");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        &path,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(victims::ACTIVE, "1")
    .env_remove("NETNS_TEST_CAPTURE")
    .env_remove("NETNS_TEST_TIMEOUT");
    match artifacts {
        Some(dir) => cmd.env("NETNS_TEST_ARTIFACTS", dir),
        None => cmd.env_remove("NETNS_TEST_ARTIFACTS"),
    };
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn trace_in(root: &Path, victim: &str) -> PathBuf {
    root.join("it/capture/victims")
        .join(victim)
        .join("trace.pcapng")
}

/// One run of a victim with an artifacts root of its own, removed when the run is
/// dropped.
struct VictimRun {
    victim: &'static str,
    root: Scratch,
    out: Output,
    /// Its output, both streams.
    text: String,
}

impl VictimRun {
    fn new(victim: &'static str, env: &[(&str, &str)]) -> VictimRun {
        let root = Scratch::new("it-capture");
        let out = run_victim(victim, Some(root.path()), env);
        let text = text(&out);
        VictimRun {
            victim,
            root,
            out,
            text,
        }
    }

    /// Asserts that the victim failed, and that its message has `what`.
    fn assert_failed_with(&self, what: &str) {
        let t = &self.text;
        assert!(!self.out.status.success(), "{t}");
        assert!(t.contains(what), "{t}");
    }

    /// Asserts that the message says where the trace went, and that the trace holds
    /// the victim's echo request.
    fn assert_kept_a_ping(&self) {
        assert!(self.text.contains("written to"), "{}", self.text);
        assert!(
            self.trace()
                .packets
                .iter()
                .any(|(_, _, d)| is_echo_request(d)),
            "no echo request in the trace"
        );
    }

    /// Asserts that the victim passed.
    fn assert_passed(&self) {
        assert!(self.out.status.success(), "{}", self.text);
    }

    fn trace_path(&self) -> PathBuf {
        trace_in(self.root.path(), self.victim)
    }

    fn trace(&self) -> Trace {
        read_trace(&self.trace_path())
    }

    /// Whether the run wrote anything at all.
    fn wrote_anything(&self) -> bool {
        self.root.path().exists()
    }
}

/// What a trace holds: interface names in IDB order, and per packet the interface
/// name, whether it went out, and the bytes.
struct Trace {
    ifaces: Vec<String>,
    packets: Vec<(String, bool, Vec<u8>)>,
    stats: usize,
    /// Packets the statistics blocks count as dropped (`isb_osdrop`), over all.
    osdrop: u64,
    /// The statistics blocks' comments.
    comments: Vec<String>,
}

fn read_trace(path: &Path) -> Trace {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("no trace at {}: {e}", path.display()));
    let mut reader = PcapNgReader::new(file).unwrap();
    let mut t = Trace {
        ifaces: Vec::new(),
        packets: Vec::new(),
        stats: 0,
        osdrop: 0,
        comments: Vec::new(),
    };
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    while let Some(block) = reader.next_block() {
        match block.unwrap() {
            Block::InterfaceDescription(idb) => {
                assert!(
                    idb.options
                        .iter()
                        .any(|o| matches!(o, InterfaceDescriptionOption::IfTsResol(9))),
                    "nanosecond timestamps"
                );
                let name = idb.options.iter().find_map(|o| match o {
                    InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                    _ => None,
                });
                t.ifaces.push(name.expect("every interface has a name"));
            }
            Block::EnhancedPacket(epb) => {
                let out = epb
                    .options
                    .iter()
                    .any(|o| matches!(o, EnhancedPacketOption::Flags(f) if f & 3 == 2));
                let iface = t.ifaces[epb.interface_id as usize].clone();
                t.packets.push((iface, out, epb.data.into_owned()));
            }
            Block::InterfaceStatistics(isb) => {
                use pcap_file::pcapng::blocks::interface_statistics::InterfaceStatisticsOption;
                t.stats += 1;
                for o in isb.options {
                    match o {
                        InterfaceStatisticsOption::IsbOsDrop(n) => t.osdrop += n,
                        InterfaceStatisticsOption::Comment(c) => t.comments.push(c.into_owned()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    t
}

/// An IPv4 ICMP echo request in an Ethernet frame.
fn is_echo_request(frame: &[u8]) -> bool {
    frame.len() > 34 && frame[12..14] == [8, 0] && frame[23] == 1 && frame[34] == 8
}

/// An IPv4 TCP segment with SYN set.
fn is_tcp_syn(frame: &[u8]) -> bool {
    frame.len() > 47 && frame[12..14] == [8, 0] && frame[23] == 6 && frame[47] & 2 != 0
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_failing_test_leaves_a_trace_of_every_interface() {
    let run = VictimRun::new("fails_after_traffic", &[]);
    let path = run.trace_path();
    run.assert_failed_with(&format!("written to {}", path.display()));
    let t = &run.text;

    let trace = run.trace();
    for name in [
        "host/lo",
        "ns1/lo",
        "ns1/veth-ns1",
        "ns2/lo",
        "ns2/veth-ns2",
    ] {
        assert!(
            trace.ifaces.contains(&name.to_owned()),
            "{name} in {:?}",
            trace.ifaces
        );
    }
    assert_eq!(
        trace.stats,
        trace.ifaces.len(),
        "one statistics block per interface"
    );
    let on = |iface: &str, out: bool, pred: &dyn Fn(&[u8]) -> bool| {
        trace
            .packets
            .iter()
            .filter(|(i, o, d)| i == iface && *o == out && pred(d))
            .count()
    };
    // Both directions, on both ends of the pair.
    assert_eq!(on("ns1/veth-ns1", true, &is_echo_request), 1);
    assert_eq!(on("ns2/veth-ns2", false, &is_echo_request), 1);
    assert_eq!(on("ns1/veth-ns1", true, &is_tcp_syn), 1);
    assert_eq!(on("ns2/veth-ns2", false, &is_tcp_syn), 1);
    assert_eq!(
        on("ns1/veth-ns1", true, &|d| contains(d, b"hello from ns1")),
        1
    );

    // The failure message: the panic, the counts, then the last packets.
    assert!(t.contains("victim failed on purpose"), "{t}");
    assert!(t.contains("packets per interface: "), "{t}");
    assert!(t.contains("packets per interface: ns1/veth-ns1 "), "{t}");
    assert!(
        t.contains("ns1/veth-ns1 In  IP 192.168.1.2 > 192.168.1.1: ICMP echo reply, id "),
        "{t}"
    );
    assert!(
        t.contains("ns1/veth-ns1 Out IP 192.168.1.1.")
            && t.contains(" > 192.168.1.2.7000: Flags [S], seq "),
        "{t}"
    );
    assert!(t.contains(": Flags [P.], seq "), "{t}");
    assert!(t.contains("payload 14, length 80"), "{t}");
    assert!(summary_lines(t) >= 24, "{t}");

    check_with_tshark(&path, &["ns1/veth-ns1", "ns2/veth-ns2"]);
}

/// `tshark -r FILE` reads the trace and shows the `node/iface` names, when tshark is
/// installed (CI installs it).
fn check_with_tshark(path: &Path, names: &[&str]) {
    // tshark reads its preferences from HOME: give it one of its own, so that it
    // works whoever runs the tests (as an unprivileged uid HOME may be /root).
    let home = std::env::temp_dir().join(format!("netns-test-tshark-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&home);
    let out = Command::new("tshark")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "frame.interface_name"])
        .output();
    let _ = std::fs::remove_dir_all(&home);
    match out {
        Err(e) => println!("tshark not available ({e}): skipped the tshark check"),
        Ok(out) => {
            let t = text(&out);
            assert!(out.status.success(), "tshark could not read the trace: {t}");
            for name in names {
                assert!(
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .any(|l| l == *name),
                    "tshark shows no packet on {name}: {t}"
                );
            }
            println!("tshark read the trace");
        }
    }
}

/// How many packets the failure message summarised.
fn summary_lines(t: &str) -> usize {
    t.lines()
        .skip_while(|l| !l.starts_with("last "))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .count()
}

/// The packet count in "packet trace (N packets on M interfaces)".
fn packets_in_message(t: &str) -> usize {
    let rest = t.split("packet trace (").nth(1).expect("a trace line");
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_default_location_is_under_the_target_directory() {
    let out = run_victim("returns_err_after_ping", None, &[]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Error: victim returned Err on purpose"), "{t}");
    // target/debug/deps/it-HASH -> target/netns-test/it/...
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    let path = trace_in(&target.join("netns-test"), "returns_err_after_ping");
    assert!(t.contains(&format!("written to {}", path.display())), "{t}");
    let trace = read_trace(&path);
    assert!(
        trace
            .packets
            .iter()
            .any(|(i, _, d)| i == "ns1/veth-ns1" && is_echo_request(d))
    );
    assert_eq!(trace.packets.len(), packets_in_message(&t));
    assert_eq!(
        summary_lines(&t),
        packets_in_message(&t).min(20),
        "by default 20: {t}"
    );

    // A rerun replaces the trace; a pass removes it.
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    run_victim("returns_err_after_ping", None, &[]);
    assert!(std::fs::metadata(&path).unwrap().modified().unwrap() >= before);
    let dir = path.parent().unwrap();
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "old traces are replaced, not accumulated");
}

#[test]
fn a_hung_test_times_out_with_its_trace() {
    let start = std::time::Instant::now();
    let run = VictimRun::new("hangs_after_ping", &[]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "{}",
        run.text
    );
    run.assert_failed_with("the test timed out after 2s");
    assert!(
        run.trace()
            .packets
            .iter()
            .any(|(i, _, d)| i == "ns2/veth-ns2" && is_echo_request(d)),
        "the ping before the hang is in the trace"
    );
}

#[test]
fn the_environment_sets_the_default_timeout() {
    // The attribute wins over the environment: still 2s, not 1s.
    VictimRun::new("hangs_after_ping", &[("NETNS_TEST_TIMEOUT", "1s")])
        .assert_failed_with("timed out after 2s");
    VictimRun::new("passes", &[("NETNS_TEST_TIMEOUT", "soon")])
        .assert_failed_with("NETNS_TEST_TIMEOUT=\"soon\" is not a duration");
}

#[test]
fn a_passing_test_writes_nothing_unless_asked() {
    let run = VictimRun::new("passes", &[]);
    run.assert_passed();
    assert!(
        !run.wrote_anything(),
        "a passing test wrote {}",
        run.root.path().display()
    );

    let run = VictimRun::new("passes_with_capture_always", &[]);
    run.assert_passed();
    assert!(
        run.trace()
            .packets
            .iter()
            .any(|(_, _, d)| is_echo_request(d))
    );

    let run = VictimRun::new("passes", &[("NETNS_TEST_CAPTURE", "always")]);
    run.assert_passed();
    assert!(run.trace_path().is_file());
}

/// `#[should_panic(expected = ...)]` judged as libtest judges it: a panic with another
/// message fails the test and keeps its trace; the expected one passes and writes
/// nothing.
#[test]
fn a_panic_with_the_wrong_message_keeps_the_trace() {
    let run = VictimRun::new("panics_with_another_message", &[]);
    run.assert_failed_with("victim panicked with another message");
    run.assert_kept_a_ping();
    let run = VictimRun::new("panics_as_expected", &[]);
    run.assert_passed();
    assert!(!run.wrote_anything(), "{}", run.text);
}

#[test]
fn a_body_that_exits_is_reported_with_its_status_and_trace() {
    let run = VictimRun::new("exits_from_its_body", &[]);
    run.assert_failed_with("the test's process exited with status 3 before it finished");
    run.assert_kept_a_ping();
}

/// Status 0 without a verdict: a body that reached its capture hand-off called
/// `exit(0)`; it is not taken for a test that was not found.
#[test]
fn a_body_that_exits_with_status_0_is_not_taken_for_a_missing_test() {
    let run = VictimRun::new("exits_zero_from_its_body", &[]);
    run.assert_failed_with(
        "the test's process exited with status 0 before it finished (a body calling \
         std::process::exit(0)?)",
    );
    assert!(!run.text.contains("was not found"), "{}", run.text);
    assert!(run.trace_path().is_file(), "{}", run.text);
    // With the capture off nothing says how far the child got: both causes are named.
    let run = VictimRun::new(
        "exits_zero_from_its_body",
        &[("NETNS_TEST_CAPTURE", "never")],
    );
    run.assert_failed_with("its body called std::process::exit(0), or it ran no test");
}

#[test]
fn a_child_killed_by_a_signal_still_leaves_its_trace() {
    let run = VictimRun::new("aborts_after_talking_to_a_server", &[]);
    // The test child is not its namespace's init, so abort() is an ordinary SIGABRT.
    run.assert_failed_with("was killed by signal 6 (SIGABRT: abort())");
    let t = &run.text;
    assert!(t.contains("written to"), "{t}");
    assert!(
        t.contains("UDP, payload 5"),
        "the summary shows the datagrams: {t}"
    );
    let trace = run.trace();
    // The server's reply, sent by ns2 and received by ns1.
    let reply = |iface: &str, out: bool| {
        trace.packets.iter().any(|(i, o, d)| {
            i == iface && *o == out && d.len() > 37 && d[34..36] == 7300u16.to_be_bytes()
        })
    };
    assert!(reply("ns2/veth-ns2", true) && reply("ns1/veth-ns1", false));
}

#[test]
fn capture_never_writes_nothing() {
    let run = VictimRun::new("fails_with_capture_never", &[]);
    run.assert_failed_with("victim failed on purpose");
    assert!(!run.text.contains("packet trace"), "{}", run.text);
    assert!(!run.wrote_anything());
    // The environment turns capture off for tests that do not choose.
    let run = VictimRun::new("fails_after_traffic", &[("NETNS_TEST_CAPTURE", "never")]);
    run.assert_failed_with("victim failed on purpose");
    assert!(!run.text.contains("packet trace"), "{}", run.text);
    assert!(!run.wrote_anything());
}

#[test]
fn the_memory_cap_keeps_the_newest_packets() {
    let run = VictimRun::new("fails_over_the_memory_cap", &[]);
    run.assert_failed_with("memory cap dropped the oldest");
    let t = &run.text;
    assert!(t.contains("last 3 packets"), "{t}");
    let trace = run.trace();
    // The file says what it lacks, as the message does.
    let dropped: u64 = t
        .split("memory cap dropped the oldest ")
        .nth(1)
        .and_then(|r| r.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a count of the packets dropped for the cap: {t}"));
    assert_eq!(trace.osdrop, dropped, "{:?}", trace.comments);
    assert!(
        trace.comments.iter().any(|c| c.starts_with("the oldest ")
            && c.contains(" dropped to keep the capture under its memory cap")),
        "{:?}",
        trace.comments
    );
    // Each packet counts 64 bytes besides its own (the attribute's documentation).
    let bytes: usize = trace.packets.iter().map(|(_, _, d)| d.len() + 64).sum();
    assert!(bytes <= 4096, "{bytes} bytes kept");
    // The newest survive: the last pings, not the TCP handshake.
    assert!(!trace.packets.iter().any(|(_, _, d)| is_tcp_syn(d)));
    assert!(trace.packets.iter().any(|(_, _, d)| is_echo_request(d)));
}

/// The TCP payload of an IPv4 Ethernet frame.
fn tcp_payload(frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < 34 || frame[12..14] != [8, 0] || frame[23] != 6 {
        return None;
    }
    let ip = 14 + usize::from(frame[14] & 0x0f) * 4;
    let tcp = ip + usize::from(frame.get(ip + 12)? >> 4) * 4;
    frame.get(tcp..)
}

/// The TCP frames of the long message in `trace`, checked byte for byte (each payload
/// byte is 7 more than the one before, modulo 251); per frame its interface, the
/// length it had (from its IPv4 header: a GSO packet's says its whole length) and the
/// length kept.
fn long_message_frames(trace: &Trace) -> Vec<(&str, usize, usize)> {
    let mut frames = Vec::new();
    for (iface, _, frame) in &trace.packets {
        let Some(payload) = tcp_payload(frame) else {
            continue;
        };
        for (j, w) in payload.windows(2).enumerate() {
            assert_eq!(
                u16::from(w[1]),
                (u16::from(w[0]) + 7) % 251,
                "{iface}: payload byte {j} of {} does not follow the one before",
                payload.len()
            );
        }
        if let Some(&first) = payload.first() {
            assert!(first < 251, "{iface}: a payload byte the message never had");
        }
        let ip_len = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        frames.push((iface.as_str(), 14 + ip_len, frame.len()));
    }
    frames
}

#[test]
fn long_packets_are_kept_byte_for_byte() {
    let run = VictimRun::new("sends_a_long_message_and_fails", &[]);
    run.assert_failed_with("victim failed on purpose");
    assert!(!run.text.contains("kept cut"), "{}", run.text);
    let trace = run.trace();
    let frames = long_message_frames(&trace);
    for (iface, len, kept) in &frames {
        assert_eq!(kept, len, "{iface}: a frame kept in part");
    }
    let long = frames.iter().filter(|(_, len, _)| *len > 8192).count();
    assert!(
        long >= 4,
        "expected segments of over 8 KiB on both veth ends, found {long}"
    );
}

#[test]
fn bulk_traffic_past_the_whole_packet_rate_is_kept_cut_to_its_headers() {
    let run = VictimRun::new("sends_bulk_past_the_whole_packet_rate_and_fails", &[]);
    run.assert_failed_with("victim failed on purpose");
    let t = &run.text;
    let said = " packets kept cut to their first 256 bytes: the traffic ran faster than the \
                capture keeps whole packets (64 KiB a second, and bursts of as much: the memory \
                cap's worth; raise it with `capture_limit";
    let cut: u64 = t
        .split(said)
        .next()
        .filter(|before| before.len() < t.len())
        .and_then(|before| before.rsplit("netns-test: ").next()?.parse().ok())
        .unwrap_or_else(|| panic!("a count of packets kept cut: {t}"));
    // The file says the same, per interface: the two veth ends.
    let trace = run.trace();
    let per_iface: Vec<u64> = trace
        .comments
        .iter()
        .filter(|c| c.contains(" kept cut to their first 256 bytes"))
        .map(|c| {
            c.split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(per_iface.len(), 2, "{:?}", trace.comments);
    assert_eq!(per_iface.iter().sum::<u64>(), cut);
    // And the message's per-interface counts, e.g. "ns1/veth-ns1 9000 (8000 dropped,
    // 7000 cut)".
    let counts = t
        .lines()
        .find_map(|l| l.strip_prefix("packets per interface: "))
        .unwrap_or_else(|| panic!("no per-interface counts: {t}"));
    let cut_in_counts: u64 = counts
        .split("), ")
        .filter_map(|c| {
            c.trim_end_matches(')')
                .rsplit(", ")
                .next()?
                .strip_suffix(" cut")
        })
        .filter_map(|n| n.rsplit([' ', '(']).next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(cut_in_counts, cut, "{counts}");
    // 16 MB seen on both ends is 32 MB; whole packets are at most 64 KiB and 64 KiB a
    // second of it.
    assert!(cut > 100, "only {cut} packets cut: {counts}");
    let frames = long_message_frames(&trace);
    // Every frame kept has every header and the start of its payload, which follows
    // the message's bytes (checked above); the long ones are cut to 256 bytes, or whole.
    let in_file = frames
        .iter()
        .filter(|(_, len, kept)| *len > 256 && *kept == 256)
        .count();
    assert!(in_file > 0, "no frame in the file is cut: {frames:?}");
    assert!(
        in_file as u64 <= cut,
        "{in_file} cut in the file, {cut} said"
    );
    for (iface, len, kept) in &frames {
        assert!(
            kept == len || *kept == 256,
            "{iface}: {kept} of {len} bytes kept"
        );
    }
}

#[test]
fn bridges_ports_and_interfaces_moved_at_run_time_are_captured() {
    let run = VictimRun::new("fails_on_a_bridge_after_moving_an_interface", &[]);
    run.assert_failed_with("victim failed on purpose");
    let trace = run.trace();
    let echo_on = |iface: &str| {
        trace
            .packets
            .iter()
            .any(|(i, _, d)| i == iface && is_echo_request(d))
    };
    for iface in [
        "a/eth0",
        "br/pa",
        "br/pb",
        "b/eth0",
        "host/late0",
        "b/late1",
    ] {
        assert!(
            echo_on(iface),
            "no echo request on {iface}: {:?}",
            trace.ifaces
        );
    }
    // The bridge device itself sees the flooded ARP request.
    assert!(
        trace
            .packets
            .iter()
            .any(|(i, _, d)| i == "br/br0" && d.len() > 14 && d[12..14] == [8, 6]),
        "no ARP on br/br0"
    );
}
