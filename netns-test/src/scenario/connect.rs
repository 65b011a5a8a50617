//! `connect` steps: a TCP handshake or a UDP datagram and its echo, from one node to an
//! address, with a listener started by the runner in the node that owns the address
//! when the step expects `accepted`.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use netns_test_topology::{ConnectCheck, ConnectExpect, Proto, format_duration};

use super::StepOutcome;
use super::steps::{fail, is_unreachable_kind, pass};
use crate::net::Net;

/// What the connection attempt ended with.
enum Seen {
    Accepted,
    Refused,
    Timeout,
    Unreachable(String),
    Error(String),
}

pub(super) fn run(net: &Net, c: &ConnectCheck) -> StepOutcome {
    let expected = match c.expect {
        ConnectExpect::Accepted => format!("{} {} accepted", c.proto, c.to),
        ConnectExpect::Refused => format!("{} {} refused (nobody listens)", c.proto, c.to),
        ConnectExpect::Timeout => format!(
            "no answer from {} {} within {}",
            c.proto,
            c.to,
            format_duration(c.timeout)
        ),
    };
    let from = match net.try_node(&c.from) {
        Ok(n) => n,
        Err(e) => return fail(expected, e.to_string()),
    };
    let listener = match &c.listener {
        Some(name) => match net.try_node(name) {
            Ok(n) => Some(n),
            Err(e) => return fail(expected, e.to_string()),
        },
        None => None,
    };
    let seen = match c.proto {
        Proto::Tcp => {
            let server = match listener {
                Some(n) => match n.run(|| TcpListener::bind(c.to)) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        let msg = format!(
                            "could not start the TCP listener on {} in {}: {e}",
                            c.to,
                            n.name()
                        );
                        return fail(expected, msg);
                    }
                },
                None => None,
            };
            let seen = classify(
                from.run(|| TcpStream::connect_timeout(&c.to, c.timeout))
                    .map(drop),
            );
            drop(server);
            seen
        }
        Proto::Udp => {
            let echo = match listener {
                Some(n) => match n.run(|| UdpSocket::bind(c.to)) {
                    Ok(s) => Some(spawn_echo(s, c.timeout)),
                    Err(e) => {
                        let msg = format!(
                            "could not start the UDP listener on {} in {}: {e}",
                            c.to,
                            n.name()
                        );
                        return fail(expected, msg);
                    }
                },
                None => None,
            };
            let seen = classify(from.run(|| udp_exchange(c.to, c.timeout)));
            if let Some(h) = echo {
                let _ = h.join();
            }
            seen
        }
    };
    let observed = match &seen {
        Seen::Accepted => "accepted".to_owned(),
        Seen::Refused => "refused".to_owned(),
        Seen::Timeout => format!("no answer within {}", format_duration(c.timeout)),
        Seen::Unreachable(s) => format!("unreachable: {s}"),
        Seen::Error(s) => s.clone(),
    };
    let ok = matches!(
        (&seen, c.expect),
        (Seen::Accepted, ConnectExpect::Accepted)
            | (Seen::Refused, ConnectExpect::Refused)
            | (Seen::Timeout, ConnectExpect::Timeout)
    );
    if ok {
        pass(observed)
    } else {
        fail(expected, observed)
    }
}

fn classify(r: io::Result<()>) -> Seen {
    match r {
        Ok(()) => Seen::Accepted,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Seen::Refused,
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => Seen::Timeout,
        Err(e) if is_unreachable_kind(Some(e.kind())) => Seen::Unreachable(e.to_string()),
        Err(e) => Seen::Error(format!("error: {e}")),
    }
}

const PROBE: &[u8] = b"netns-test connect probe";

/// Sends one datagram on a connected socket and waits for the echo. A connected UDP
/// socket reports an ICMP port unreachable as `ConnectionRefused`.
fn udp_exchange(to: SocketAddr, timeout: Duration) -> io::Result<()> {
    let any: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let s = UdpSocket::bind(SocketAddr::new(any, 0))?;
    s.connect(to)?;
    s.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    s.send(PROBE)?;
    let mut buf = [0u8; 64];
    let n = s.recv(&mut buf)?;
    if buf.get(..n) == Some(PROBE) {
        Ok(())
    } else {
        Err(io::Error::new(
            ErrorKind::InvalidData,
            "an unexpected answer came back",
        ))
    }
}

/// Echoes one datagram back to its sender, waiting at most a little longer than the
/// client does.
fn spawn_echo(s: UdpSocket, timeout: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = s.set_read_timeout(Some(timeout + Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        if let Ok((n, peer)) = s.recv_from(&mut buf) {
            let _ = s.send_to(buf.get(..n).unwrap_or_default(), peer);
        }
    })
}
