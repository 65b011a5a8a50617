//! Helpers several test modules share.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Output;
use std::time::{Duration, Instant};

use netns_test::Net;

/// What a finished process printed: its stdout, then its stderr.
pub(crate) fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Sends `count` UDP datagrams from node `from` to `to` (node, address), one every
/// `pace`, reading them as they come (so that the receiving socket's buffer never
/// overflows: only a configured loss should count), and returns how many arrived.
pub(crate) fn datagrams(
    net: &Net,
    from: &str,
    to: (&str, &'static str),
    count: usize,
    pace: Duration,
) -> usize {
    let rx = net.node(to.0).run(|| UdpSocket::bind((to.1, 0))).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let dest = rx.local_addr().unwrap();
    let tx = net.node(from).run(|| UdpSocket::bind("0.0.0.0:0")).unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 16];
        while rx.recv(&mut buf).is_ok() {
            got += 1;
        }
        got
    });
    for i in 0..count {
        tx.send_to(&(i as u32).to_be_bytes(), dest).unwrap();
        std::thread::sleep(pace);
    }
    reader.join().unwrap()
}

/// Sends `bytes` over TCP from node `from` to `to` (node, address), on a port the
/// listener picks, and returns how long it took until the receiver had them all.
pub(crate) fn transfer(net: &Net, from: &str, to: (&str, &'static str), bytes: usize) -> Duration {
    let listener = net.node(to.0).run(|| TcpListener::bind((to.1, 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let started = Instant::now();
    let mut s = net.node(from).run(|| TcpStream::connect(addr)).unwrap();
    s.write_all(&vec![7u8; bytes]).unwrap();
    drop(s);
    assert_eq!(reader.join().unwrap(), bytes);
    started.elapsed()
}

/// The IPv6 addresses of node `node` that are still tentative (duplicate address
/// detection not done), from the kernel's own table (`/proc/net/if_inet6`, flag
/// `IFA_F_TENTATIVE`), as `address on interface`.
pub(crate) fn tentative_v6(net: &Net, node: &str) -> Vec<String> {
    const IFA_F_TENTATIVE: u32 = 0x40;
    let table = net
        .node(node)
        .run(|| std::fs::read_to_string("/proc/thread-self/net/if_inet6"))
        .unwrap();
    table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, flags, iface) = (f.first()?, f.get(4)?, f.get(5)?);
            let flags = u32::from_str_radix(flags, 16).ok()?;
            (flags & IFA_F_TENTATIVE != 0).then(|| format!("{addr} on {iface}"))
        })
        .collect()
}
