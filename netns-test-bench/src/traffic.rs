//! The capture's cost on traffic, with the capture off and on in the same run: bulk
//! TCP over the pair's veth (Gbit/s, and how many packets the kernel dropped before
//! the capture read them), and 64-byte UDP datagrams paced at a rate (sent, received,
//! captured, dropped).
//!
//! Bulk TCP is also measured with Wireshark's `dumpcap` capturing both veth ends in
//! place of ours (a `TPACKET_V3` ring, writing to `/dev/null`), when it is installed:
//! what any capture of every byte costs here, beside what ours costs.
//!
//! Each measurement is one `#[netns_test]`-style run of the pair in a re-executed copy
//! of this binary (so that the capture's settings come from that copy's environment,
//! as a user sets them). The body fails on purpose with its figure, so that the runner
//! keeps the trace and reports the capture's counts in the failure message, which the
//! copy reads and prints as one line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStderr, Stdio};
use std::time::{Duration, Instant};

use netns_test::__private::Outcome;
use netns_test::Net;

use crate::stats::{Table, middle};

/// The variable that makes this binary a traffic child: `tcp:SECONDS` or `udp:PPS`.
const TRAFFIC_ENV: &str = "NETNS_TEST_BENCH_TRAFFIC";
/// Marks the body's figures in its failure message.
const MARK: &str = "MEASURE";
/// Set in a traffic child that runs `dumpcap` on both veth ends: its ring's size in
/// MiB, or `default`.
const DUMPCAP_ENV: &str = "NETNS_TEST_BENCH_DUMPCAP";

/// What one run measured.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Run {
    /// Bulk TCP: goodput in Gbit/s.
    pub(crate) gbit_s: f64,
    /// Paced UDP: datagrams sent a second, sent in all, and received in all.
    pub(crate) sent_pps: f64,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    /// Packets in the trace, over every interface (0 with the capture off).
    pub(crate) captured: u64,
    /// Packets the kernel dropped before the capture read them.
    pub(crate) kernel_drops: u64,
    /// Packets kept cut to their headers, the traffic running faster than the capture
    /// keeps whole packets.
    pub(crate) cut: u64,
}

/// The test body of scenario `tcp`: bulk TCP from ns1 to ns2 for the seconds in
/// [`TRAFFIC_ENV`]; fails with the goodput.
pub(crate) fn tcp_bulk(net: &Net) -> Outcome {
    let seconds = param("tcp").unwrap_or(2);
    let result = (|| -> std::io::Result<String> {
        let listener = net
            .node("ns2")
            .run(|| TcpListener::bind("192.168.1.2:7100"))?;
        let reader = std::thread::spawn(move || -> std::io::Result<u64> {
            let (mut c, _) = listener.accept()?;
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0u64;
            loop {
                match c.read(&mut buf)? {
                    0 => return Ok(total),
                    n => total += n as u64,
                }
            }
        });
        let dumpcaps = match std::env::var(DUMPCAP_ENV) {
            Ok(ring) => {
                let ring = ring.parse::<u32>().ok();
                vec![
                    Dumpcap::start(net, "ns1", "veth-ns1", ring)?,
                    Dumpcap::start(net, "ns2", "veth-ns2", ring)?,
                ]
            }
            Err(_) => Vec::new(),
        };
        let mut s = net
            .node("ns1")
            .run(|| TcpStream::connect("192.168.1.2:7100"))?;
        let chunk = vec![7u8; 1 << 20];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(seconds) {
            s.write_all(&chunk)?;
        }
        drop(s);
        let total = reader
            .join()
            .map_err(|_| std::io::Error::other("the reader panicked"))??;
        let secs = start.elapsed().as_secs_f64();
        let mut line = format!("gbit_s={:.3}", total as f64 * 8.0 / secs / 1e9);
        if !dumpcaps.is_empty() {
            let (mut captured, mut dropped) = (0, 0);
            for d in dumpcaps {
                let (c, dr) = d.stop()?;
                captured += c;
                dropped += dr;
            }
            line.push_str(&format!(" captured={captured} kernel_drops={dropped}"));
        }
        Ok(line)
    })();
    figures(result)
}

/// `dumpcap` capturing one interface of a node, whole packets, to `/dev/null`.
struct Dumpcap {
    child: Child,
    stderr: BufReader<ChildStderr>,
}

impl Dumpcap {
    /// Starts it, with a ring of `ring_mib` MiB (its default, 2 MiB, if `None`), and
    /// waits until it says it is capturing.
    fn start(
        net: &Net,
        node: &str,
        iface: &str,
        ring_mib: Option<u32>,
    ) -> std::io::Result<Dumpcap> {
        let mut cmd = net.node(node).command("dumpcap");
        cmd.args(["-i", iface, "-q", "-w", "/dev/null"]);
        if let Some(mib) = ring_mib {
            cmd.arg("-B").arg(mib.to_string());
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
        let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
        let mut said = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line)? == 0 {
                let _ = child.wait();
                return Err(std::io::Error::other(format!(
                    "dumpcap on {node}/{iface} ended before capturing: {}",
                    said.trim()
                )));
            }
            if line.starts_with("Capturing on") {
                return Ok(Dumpcap { child, stderr });
            }
            said.push_str(&line);
        }
    }

    /// Stops it (`SIGINT`, as a user's Ctrl-C) and returns the packets it received and
    /// those the kernel dropped, from its last words.
    fn stop(mut self) -> std::io::Result<(u64, u64)> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT)?;
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest)?;
        self.child.wait()?;
        dumpcap_counts(&rest).ok_or_else(|| {
            std::io::Error::other(format!("dumpcap did not say what it received: {rest}"))
        })
    }
}

/// From `dumpcap`'s "Packets received/dropped on interface 'veth-ns1': 97266/0 ...".
fn dumpcap_counts(said: &str) -> Option<(u64, u64)> {
    let counts = said
        .lines()
        .find_map(|l| l.strip_prefix("Packets received/dropped on interface "))?
        .split(": ")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let (received, dropped) = counts.split_once('/')?;
    Some((received.parse().ok()?, dropped.parse().ok()?))
}

/// The test body of scenario `udp`: 64-byte datagrams from ns1 to ns2 for a second,
/// paced at the rate in [`TRAFFIC_ENV`] (in bursts every half millisecond); fails with
/// what was sent and received.
pub(crate) fn udp_paced(net: &Net) -> Outcome {
    let pps = param("udp").unwrap_or(100_000);
    let result = (|| -> std::io::Result<String> {
        let rx = net
            .node("ns2")
            .run(|| UdpSocket::bind("192.168.1.2:7200"))?;
        rx.set_read_timeout(Some(Duration::from_millis(300)))?;
        let counter = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut n = 0u64;
            while rx.recv(&mut buf).is_ok() {
                n += 1;
            }
            n
        });
        let tx = net.node("ns1").run(|| UdpSocket::bind("192.168.1.1:0"))?;
        tx.connect("192.168.1.2:7200")?;
        let payload = [1u8; 64];
        let start = Instant::now();
        let mut sent = 0u64;
        // Until the last burst: the sleep after it sends nothing.
        let mut secs = f64::MIN_POSITIVE;
        // Whatever is due every half millisecond, sleeping in between: a sender that
        // spun would take a core from the receiver and the capture.
        while start.elapsed() < Duration::from_secs(1) {
            let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
            while sent < due {
                tx.send(&payload)?;
                sent += 1;
            }
            secs = start.elapsed().as_secs_f64();
            std::thread::sleep(Duration::from_micros(500));
        }
        let received = counter
            .join()
            .map_err(|_| std::io::Error::other("the counter panicked"))?;
        Ok(format!(
            "sent_pps={:.0} sent={sent} received={received}",
            sent as f64 / secs
        ))
    })();
    figures(result)
}

/// The number after `kind:` in [`TRAFFIC_ENV`].
fn param(kind: &str) -> Option<u64> {
    std::env::var(TRAFFIC_ENV)
        .ok()?
        .strip_prefix(kind)?
        .strip_prefix(':')?
        .parse()
        .ok()
}

/// The body's figures as a failure (so the runner reports the capture's counts), or
/// the error that stopped it.
fn figures(result: std::io::Result<String>) -> Outcome {
    Outcome::Fail(vec![match result {
        Ok(f) => format!("{MARK} {f}"),
        Err(e) => e.to_string(),
    }])
}

/// In a traffic child (this binary started by [`measure`]): runs the scenario once,
/// prints its figures on one line, and exits. Returns when this is not a traffic
/// child.
pub(crate) fn child_main() {
    let Ok(what) = std::env::var(TRAFFIC_ENV) else {
        return;
    };
    let name = if what.starts_with("tcp") {
        "tcp"
    } else {
        "udp"
    };
    let spec = crate::spec_for(name);
    let ended = std::thread::spawn(move || {
        netns_test::__private::run_test(&spec, crate::body_for(name));
    })
    .join();
    let message = match &ended {
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
        Ok(()) => String::new(),
    };
    let capturing = std::env::var("NETNS_TEST_CAPTURE").as_deref() != Ok("never");
    match message.lines().find_map(|l| l.split_once(MARK)) {
        Some((_, f)) => {
            let captured = match captured(&message) {
                Some(n) => n,
                None if !capturing => 0,
                None => {
                    // Counts read as zero would pass for a capture that saw nothing.
                    eprintln!(
                        "traffic {what}: the failure message has no \"packet trace (N \
                         packets\" line to read (has the report's wording changed?):\n{message}"
                    );
                    std::process::exit(1)
                }
            };
            if f.contains("captured=") {
                // dumpcap's counts, ours being off.
                println!("{}", f.trim());
            } else {
                println!(
                    "{} captured={captured} kernel_drops={} cut={}",
                    f.trim(),
                    kernel_drops(&message),
                    cut_count(&message)
                );
            }
            std::process::exit(0)
        }
        None => {
            eprintln!("traffic {what}: no figures; the test said:\n{message}");
            std::process::exit(1)
        }
    }
}

/// The packet count of the report's first line, "packet trace (N packets on ...";
/// `None` without that line.
fn captured(report: &str) -> Option<u64> {
    report
        .split("packet trace (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
}

/// The sum of the report's "the kernel dropped N packets in node ..." lines.
fn kernel_drops(report: &str) -> u64 {
    report
        .lines()
        .filter_map(|l| l.strip_prefix("netns-test: the kernel dropped "))
        .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The count of the report's "N packets kept cut to their first ..." line (0 without
/// it).
fn cut_count(report: &str) -> u64 {
    report
        .lines()
        .filter_map(|l| l.strip_prefix("netns-test: "))
        .find(|l| l.contains(" kept cut to their first "))
        .and_then(|l| l.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// The value of `key=` in a child's line.
fn value(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A capture setting, as a user gives it in the environment.
#[derive(Clone, Copy)]
pub(crate) enum Capture {
    Off,
    On,
    /// On, keeping the first 128 bytes of each packet.
    Snap128,
    /// Off, with `dumpcap` capturing each veth end instead, with a ring of this many
    /// MiB (`None`: its default, 2 MiB).
    Dumpcap(Option<u32>),
}

impl Capture {
    pub(crate) fn label(self) -> String {
        match self {
            Capture::Off => "capture off".to_owned(),
            Capture::On => "capture on".to_owned(),
            Capture::Snap128 => "capture on, snaplen 128".to_owned(),
            Capture::Dumpcap(None) => {
                "ours off and dumpcap on both veth ends instead (its default 2 MiB ring)".to_owned()
            }
            Capture::Dumpcap(Some(mib)) => {
                format!("the same, dumpcap with a {mib} MiB ring (-B {mib})")
            }
        }
    }
}

/// One run of `what` (`tcp:SECONDS` or `udp:PPS`) with capture `capture`, in a
/// re-executed copy of this binary whose traces go to a scratch directory.
pub(crate) fn measure(what: &str, capture: Capture) -> Result<Run, String> {
    let artifacts =
        std::env::temp_dir().join(format!("netns-test-bench-{}-traffic", std::process::id()));
    let mut cmd = crate::this_binary();
    cmd.env(TRAFFIC_ENV, what)
        .env("NETNS_TEST_ARTIFACTS", &artifacts)
        .env("NETNS_TEST_SUMMARY", "0")
        .env_remove("NETNS_TEST_CAPTURE")
        .env_remove("NETNS_TEST_SNAPLEN")
        .env_remove(DUMPCAP_ENV);
    match capture {
        Capture::Off => cmd.env("NETNS_TEST_CAPTURE", "never"),
        Capture::On => &mut cmd,
        Capture::Snap128 => cmd.env("NETNS_TEST_SNAPLEN", "128"),
        Capture::Dumpcap(ring) => cmd.env("NETNS_TEST_CAPTURE", "never").env(
            DUMPCAP_ENV,
            ring.map_or_else(|| "default".to_owned(), |mib| mib.to_string()),
        ),
    };
    let out = cmd
        .output()
        .map_err(|e| format!("cannot re-execute the benchmark: {e}"))?;
    let _ = std::fs::remove_dir_all(&artifacts);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(Run {
        gbit_s: value(&line, "gbit_s"),
        sent_pps: value(&line, "sent_pps"),
        sent: value(&line, "sent") as u64,
        received: value(&line, "received") as u64,
        captured: value(&line, "captured") as u64,
        kernel_drops: value(&line, "kernel_drops") as u64,
        // dumpcap's lines have no count of cut packets.
        cut: value(&line, "cut").max(0.0) as u64,
    })
}

/// `n` runs of `what` with each capture setting, the settings taking turns (so that a
/// change in the machine's speed affects them alike); per setting, its runs or the
/// first error it met (a setting that failed is not run again).
fn runs(what: &str, settings: &[Capture], n: usize) -> Vec<Result<Vec<Run>, String>> {
    let mut out = vec![Ok(Vec::with_capacity(n)); settings.len()];
    for _ in 0..n {
        for (c, runs) in settings.iter().zip(&mut out) {
            if let Ok(done) = runs {
                match measure(what, *c) {
                    Ok(r) => done.push(r),
                    Err(e) => *runs = Err(e),
                }
            }
        }
    }
    out
}

/// The capture's rows: bulk TCP with the capture off, on, and on with `snaplen = 128`,
/// and with `dumpcap` in its place when it is installed; UDP paced at 100k datagrams a second (and, unless `quick`, 50k and 200k) with the
/// capture off and on; each five times (UDP three) unless `quick`, the settings taking
/// turns.
pub(crate) fn report(table: &mut Table, quick: bool) {
    let (n, seconds) = if quick { (1, 1) } else { (5, 2) };
    let mut tcp = vec![Capture::Off, Capture::On, Capture::Snap128];
    let dumpcap = crate::shell::on_path("dumpcap");
    if dumpcap {
        tcp.extend([Capture::Dumpcap(None), Capture::Dumpcap(Some(32))]);
    }
    let per_setting = runs(&format!("tcp:{seconds}"), &tcp, n);
    match &per_setting[0] {
        Ok(off_runs) => {
            let off = middle(off_runs.iter().map(|r| r.gbit_s).collect());
            let parts: Vec<String> = tcp
                .iter()
                .zip(&per_setting)
                .map(|(c, rs)| {
                    let rs = match rs {
                        Ok(rs) => rs,
                        Err(e) => return format!("{}: not measured: {e}", c.label()),
                    };
                    let gbit = middle(rs.iter().map(|r| r.gbit_s).collect());
                    let captured: u64 = rs.iter().map(|r| r.captured).sum();
                    let drops: u64 = rs.iter().map(|r| r.kernel_drops).sum();
                    let cut: u64 = rs.iter().map(|r| r.cut).sum();
                    let cut = if cut > 0 {
                        format!(", {cut} of them cut to their headers for the rate")
                    } else {
                        String::new()
                    };
                    match c {
                        Capture::Off => format!("{} {gbit:.1} Gbit/s", c.label()),
                        _ => format!(
                            "{} {gbit:.1} Gbit/s, {:.0}% of off ({captured} packets \
                             captured{cut}, {drops} dropped by the kernel)",
                            c.label(),
                            gbit / off * 100.0
                        ),
                    }
                })
                .collect();
            table.note(&format!(
                "capture, bulk TCP over the pair's veth for {seconds} s (median of {n}, \
                 counts over all {n}): {}",
                parts.join("; ")
            ));
            if !dumpcap {
                table.note(
                    "capture, bulk TCP with dumpcap instead of ours: not measured, dumpcap \
                     is not installed (`apt install tshark` to compare)",
                );
            }
        }
        Err(e) => table.note(&format!("capture, bulk TCP: not measured: {e}")),
    }
    let rates: &[u64] = if quick {
        &[100_000]
    } else {
        &[50_000, 100_000, 200_000]
    };
    let udp = [Capture::Off, Capture::On];
    for pps in rates {
        let per_setting: Result<Vec<Vec<Run>>, String> =
            runs(&format!("udp:{pps}"), &udp, n.min(3))
                .into_iter()
                .collect();
        match per_setting {
            Ok(per_setting) => {
                let parts: Vec<String> = udp
                    .iter()
                    .zip(&per_setting)
                    .map(|(c, rs)| {
                        let med = |f: fn(&Run) -> f64| middle(rs.iter().map(f).collect());
                        let mut s = format!(
                            "{} sent {:.0}/s, {:.1}% of them lost by the receiving socket",
                            c.label(),
                            med(|r| r.sent_pps),
                            med(|r| {
                                100.0 * r.sent.saturating_sub(r.received) as f64
                                    / r.sent.max(1) as f64
                            })
                        );
                        if let Capture::On = c {
                            s.push_str(&format!(
                                ", {:.0} packets captured over both ends, {} dropped by the \
                                 kernel",
                                med(|r| r.captured as f64),
                                rs.iter().map(|r| r.kernel_drops).sum::<u64>()
                            ));
                        }
                        s
                    })
                    .collect();
                let runs = per_setting[0].len();
                table.note(&format!(
                    "capture, 64-byte UDP paced at {pps}/s for 1 s (median of {runs}, drops \
                     over all {runs}): {}",
                    parts.join("; ")
                ));
            }
            Err(e) => table.note(&format!("capture, UDP at {pps}/s: not measured: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_a_failure_report() {
        let report = "Error: MEASURE gbit_s=12.5\n\nnetns-test: packet trace (5400 packets on \
                      5 interfaces) written to /tmp/x/trace.pcapng\nnetns-test: the kernel \
                      dropped 12 packets in node ns1 before they could be captured\n\
                      netns-test: the kernel dropped 3 packets in node ns2 before they could \
                      be captured\npackets per interface: ns1/veth-ns1 2700";
        assert_eq!(captured(report), Some(5400));
        assert_eq!(kernel_drops(report), 15);
        assert_eq!(cut_count(report), 0);
        let cut_report = "netns-test: the capture's memory cap dropped the oldest 9 \
                          packets (raise it)\nnetns-test: 4321 packets kept cut to their \
                          first 256 bytes: the traffic ran faster";
        assert_eq!(cut_count(cut_report), 4321);
        assert_eq!(captured("Error: MEASURE gbit_s=12.5"), None);
        let line = "gbit_s=12.500 captured=5400 kernel_drops=15";
        assert_eq!(value(line, "gbit_s"), 12.5);
        assert_eq!(value(line, "kernel_drops"), 15.0);
        assert!(value(line, "received").is_nan());
    }

    #[test]
    fn dumpcap_counts_are_read_from_its_last_words() {
        let said = "File: /dev/null\nPackets captured: 97266\nPackets received/dropped on \
                    interface 'veth-ns1': 97266/12 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) \
                    (100.0%)\n";
        assert_eq!(dumpcap_counts(said), Some((97266, 12)));
        assert_eq!(dumpcap_counts("File: /dev/null\n"), None);
    }
}
