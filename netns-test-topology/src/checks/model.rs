//! The scenario model: ordered checks a topology file may carry under `[[checks]]`.
//!
//! Every reference here has been validated against the topology: nodes exist,
//! interfaces exist in their node, and a node name used as a destination has been
//! resolved to that node's first address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// One step of a scenario, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// 1-based line of the step in the topology file (for "step 3 (file:12)").
    pub line: usize,
    /// The step's own description (`name = "..."`), if given.
    pub name: Option<String>,
    /// What to do and what to expect.
    pub step: Step,
}

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// An ICMP echo from a node (`ping = { from, to, expect, ttl }`).
    Ping(PingCheck),
    /// A TCP or UDP connection attempt (`connect = { from, to, proto, expect }`).
    Connect(ConnectCheck),
    /// A hop-by-hop trace (`path = { from, to, hops }`).
    Path(PathCheck),
    /// A program run inside a node (`run = { node, cmd, status, stdout }`).
    Run(RunCheck),
    /// A pause (`wait = "100ms"`).
    Wait(Duration),
    /// A run-time fault: an interface set down or up (`link = { node, iface, state }`).
    Link(LinkCheck),
    /// A run-time change of an interface's impairment (`impair = { node, iface, netem,
    /// rate }`; neither removes it).
    Impair(ImpairCheck),
    /// A veth link cut, both ends down as if the cable were pulled (`cut =
    /// "ns1:veth-ns1"`, either end as `"node:iface"`), as `Net::cut_link` does.
    Cut(String),
    /// A link put back as the topology has it: both ends up, their addresses and both
    /// nodes' routes, which the kernel removed while it was down (`restore =
    /// "ns1:veth-ns1"`), as `Net::restore_link` does.
    Restore(String),
    /// Every link with exactly one end in these nodes cut (`partition = ["ns1",
    /// "ns-router"]`), as `Net::partition` does.
    Partition(Vec<String>),
    /// Every link cut so far restored (`heal = true`), as `Net::heal` does.
    Heal,
    /// A route added to or removed from a node (`route = { node = "ns1", add =
    /// "10.0.0.0/8 via 192.168.1.1" }`, or `remove = "..."`), as `Node::add_route` and
    /// `Node::remove_route` do.
    Route(RouteCheck),
}

/// `route = { node = "ns1", add = "192.168.2.0/24 via 192.168.1.1" }` (or `remove`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCheck {
    /// The node.
    pub node: String,
    /// `true` to add the route, `false` to remove it.
    pub add: bool,
    /// The route.
    pub route: crate::model::Route,
}

/// A destination as the file wrote it and as resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address probed.
    pub addr: IpAddr,
    /// The node name the file used instead of an address, if it did.
    pub node: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(n) => write!(f, "{n} ({})", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// What a ping should end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingExpect {
    /// An echo reply.
    Reply,
    /// An immediate error: no route ("Network is unreachable") or an ICMP error from a
    /// router.
    Unreachable,
    /// Silence until the timeout.
    Timeout,
}

/// `ping = { from = "ns1", to = "192.168.1.2", expect = "reply", ttl = 64 }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingCheck {
    /// The node the echo is sent from.
    pub from: String,
    /// The destination.
    pub to: Target,
    /// The expected outcome (default: reply).
    pub expect: PingExpect,
    /// The reply's expected TTL (only with `expect = "reply"`).
    pub ttl: Option<u8>,
    /// How long to wait for an answer (default 1 s).
    pub timeout: Duration,
}

/// The transport of a [`ConnectCheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP: a handshake.
    Tcp,
    /// UDP: a datagram and its echo.
    Udp,
}

/// What a connection attempt should end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectExpect {
    /// The connection is accepted (TCP) or the datagram echoed (UDP) by a listener the
    /// runner starts in the node that owns the destination address.
    Accepted,
    /// Refused: a TCP reset or an ICMP port unreachable (nobody listens).
    Refused,
    /// No answer until the timeout.
    Timeout,
}

/// `connect = { from = "ns1", to = "192.168.2.2:80", proto = "tcp", expect = "refused" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectCheck {
    /// The node the connection starts from.
    pub from: String,
    /// The destination address and port.
    pub to: SocketAddr,
    /// The node name the file used instead of an address, if it did.
    pub to_node: Option<String>,
    /// TCP or UDP (default TCP).
    pub proto: Proto,
    /// The expected outcome (default: accepted).
    pub expect: ConnectExpect,
    /// For `accepted`: the node that owns the destination address, where the runner
    /// starts the listener.
    pub listener: Option<String>,
    /// How long to wait (default 1 s).
    pub timeout: Duration,
}

/// `path = { from = "a-ns1", to = "192.168.2.2", hops = ["192.168.1.1", ...] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathCheck {
    /// The node the trace starts from.
    pub from: String,
    /// The destination.
    pub to: Target,
    /// Who should answer at TTL 1, 2, 3, ...; the last is normally the destination.
    pub hops: Vec<IpAddr>,
}

/// `run = { node = "ns1", cmd = ["ip", "route"], status = 0, stdout = "192.168.2.0/24" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCheck {
    /// The node the program runs in.
    pub node: String,
    /// The program and its arguments.
    pub cmd: Vec<String>,
    /// The expected exit status (default 0).
    pub status: i32,
    /// Text the standard output must contain, if given.
    pub stdout: Option<String>,
    /// Text the standard error must contain, if given.
    pub stderr: Option<String>,
    /// How long the program may run before it is killed (default 10 s).
    pub timeout: Duration,
}

/// `link = { node = "ns1", iface = "veth-ns1", state = "down" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCheck {
    /// The node.
    pub node: String,
    /// The interface.
    pub iface: String,
    /// `true` to set it up, `false` to set it down.
    pub up: bool,
}

/// `impair = { node = "ns1", iface = "veth-ns1", netem = { delay = "100ms" } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpairCheck {
    /// The node.
    pub node: String,
    /// The interface.
    pub iface: String,
    /// The new impairment of its outgoing traffic (empty: none).
    pub impairment: crate::elements::Impairment,
}

impl fmt::Display for PingExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PingExpect::Reply => "reply",
            PingExpect::Unreachable => "unreachable",
            PingExpect::Timeout => "timeout",
        })
    }
}

impl fmt::Display for ConnectExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectExpect::Accepted => "accepted",
            ConnectExpect::Refused => "refused",
            ConnectExpect::Timeout => "timeout",
        })
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// A duration as a topology file writes it, to the microsecond: `us` below a
/// millisecond, `ms` below a second, seconds otherwise (`200us`, `1.5ms`, `100ms`,
/// `1.25s`).
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    let (whole, frac, unit) = if us < 1_000 {
        (us, 0, "us")
    } else if us < 1_000_000 {
        (us / 1_000, us % 1_000, "ms")
    } else {
        (us / 1_000_000, us % 1_000_000, "s")
    };
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let width = if unit == "s" { 6 } else { 3 };
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}{unit}", digits.trim_end_matches('0'))
}

/// A one-line description, e.g. `ping ns1 -> 192.168.2.2: reply, ttl 63`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Ping(p) => {
                write!(f, "ping {} -> {}: {}", p.from, p.to, p.expect)?;
                if let Some(ttl) = p.ttl {
                    write!(f, ", ttl {ttl}")?;
                }
                Ok(())
            }
            Step::Connect(c) => {
                write!(f, "connect {} {} -> ", c.proto, c.from)?;
                match &c.to_node {
                    Some(n) => write!(f, "{n} ({})", c.to)?,
                    None => write!(f, "{}", c.to)?,
                }
                write!(f, ": {}", c.expect)
            }
            Step::Path(p) => {
                let hops: Vec<String> = p.hops.iter().map(IpAddr::to_string).collect();
                write!(f, "path {} -> {}: {}", p.from, p.to, hops.join(", "))
            }
            Step::Run(r) => {
                write!(f, "run in {}: {}", r.node, r.cmd.join(" "))?;
                write!(f, " (status {}", r.status)?;
                if let Some(s) = &r.stdout {
                    write!(f, ", stdout has {s:?}")?;
                }
                if let Some(s) = &r.stderr {
                    write!(f, ", stderr has {s:?}")?;
                }
                f.write_str(")")
            }
            Step::Wait(d) => write!(f, "wait {}", format_duration(*d)),
            Step::Link(l) => write!(
                f,
                "link {}:{} {}",
                l.node,
                l.iface,
                if l.up { "up" } else { "down" }
            ),
            Step::Impair(i) => write!(f, "impair {}:{} {}", i.node, i.iface, i.impairment),
            Step::Cut(end) => write!(f, "cut the link of {end}"),
            Step::Restore(end) => write!(f, "restore the link of {end}"),
            Step::Partition(side) => write!(f, "partition {} from the rest", side.join(", ")),
            Step::Heal => f.write_str("heal every cut link"),
            Step::Route(r) => write!(
                f,
                "route in {}: {} {}",
                r.node,
                if r.add { "add" } else { "remove" },
                r.route
            ),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n}: {}", self.step),
            None => write!(f, "{}", self.step),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_to_the_microsecond() {
        let cases = [
            (Duration::ZERO, "0us"),
            (Duration::from_micros(200), "200us"),
            (Duration::from_micros(1_500), "1.5ms"),
            (Duration::from_micros(1_001), "1.001ms"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1_250), "1.25s"),
            (Duration::from_micros(2_000_005), "2.000005s"),
            (Duration::from_secs(60), "60s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_duration(d), text, "{d:?}");
        }
    }
}
