//! The model of the elements beyond veth pairs, bridges and routes: device settings
//! (VXLAN, macvlan, ipvlan, VLAN, layer 3 tunnels), NAT and filter rules, link
//! impairments, and per-node names (`/etc/hosts`, hostname).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::checks::model::format_duration;

/// An interface of some node, written `"node:iface"` (or `"iface"` for one of the
/// declaring node's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceName {
    /// The node.
    pub node: String,
    /// The interface name in that node.
    pub iface: String,
}

impl fmt::Display for IfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.iface)
    }
}

/// What a device needs beyond its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceSettings {
    /// Nothing (dummy, tun, tap).
    None,
    /// A VXLAN interface.
    Vxlan(Vxlan),
    /// A macvlan on a parent interface.
    Macvlan {
        /// The lower device; the macvlan is created in its node and moved to its own.
        parent: IfaceName,
        /// How macvlans on the same parent see each other.
        mode: MacvlanMode,
    },
    /// An ipvlan on a parent interface.
    Ipvlan {
        /// The lower device; the ipvlan is created in its node and moved to its own.
        parent: IfaceName,
        /// Layer 2 or layer 3.
        mode: IpvlanMode,
    },
    /// An 802.1Q VLAN sub-interface.
    Vlan {
        /// The lower device; created in its node and moved to the device's own.
        parent: IfaceName,
        /// The VLAN id, 1..=4094.
        id: u16,
    },
    /// An ipip, gre or sit tunnel.
    Tunnel(Tunnel),
}

/// A VXLAN interface (`ip link add NAME type vxlan id VNI ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vxlan {
    /// The VXLAN network identifier, 0..2^24.
    pub vni: u32,
    /// Unicast remote endpoints (`remote`); the first is the default destination, each
    /// further one is added to the forwarding database as an all-zeros entry.
    pub remotes: Vec<IpAddr>,
    /// A multicast group (`group`), instead of remotes.
    pub group: Option<IpAddr>,
    /// The local underlay address (`local`).
    pub local: Option<IpAddr>,
    /// The underlay interface, in the device's node (`dev`).
    pub dev: Option<String>,
    /// The UDP destination port (default 4789, the IANA port).
    pub dstport: u16,
    /// Learn remote MAC addresses from received packets (default true).
    pub learning: bool,
    /// TTL of the outer packets, if set.
    pub ttl: Option<u8>,
}

/// Macvlan modes (`ip link add ... type macvlan mode MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    /// No traffic between macvlans of the same parent, even through an outside switch.
    Private,
    /// Traffic between macvlans goes out to the parent's switch (a reflective relay).
    Vepa,
    /// Macvlans of the same parent talk directly (the default).
    Bridge,
    /// The one macvlan takes over the parent (its MAC included).
    Passthru,
}

impl MacvlanMode {
    /// The kernel's `MACVLAN_MODE_*` value.
    pub fn kernel_value(self) -> u32 {
        match self {
            MacvlanMode::Private => 1,
            MacvlanMode::Vepa => 2,
            MacvlanMode::Bridge => 4,
            MacvlanMode::Passthru => 8,
        }
    }

    /// The `ip` word for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Passthru => "passthru",
        }
    }
}

/// Ipvlan modes (`ip link add ... type ipvlan mode MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanMode {
    /// Layer 2: the children answer ARP, sharing the parent's MAC (the default).
    L2,
    /// Layer 3: the parent routes for the children; no broadcast or ARP.
    L3,
    /// Layer 3 with netfilter on the children's traffic.
    L3s,
}

impl IpvlanMode {
    /// The kernel's `IPVLAN_MODE_*` value.
    pub fn kernel_value(self) -> u16 {
        match self {
            IpvlanMode::L2 => 0,
            IpvlanMode::L3 => 1,
            IpvlanMode::L3s => 2,
        }
    }

    /// The `ip` word for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            IpvlanMode::L2 => "l2",
            IpvlanMode::L3 => "l3",
            IpvlanMode::L3s => "l3s",
        }
    }
}

/// An ipip, gre or sit tunnel's endpoints (`ip link add NAME type gre local A remote B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The local underlay address, if pinned.
    pub local: Option<IpAddr>,
    /// The remote underlay address.
    pub remote: IpAddr,
    /// TTL of the outer packets (default: inherit).
    pub ttl: Option<u8>,
}

/// A transport protocol a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleProto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (IPv4) and ICMPv6.
    Icmp,
}

impl RuleProto {
    /// The protocol's name as nftables writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleProto::Tcp => "tcp",
            RuleProto::Udp => "udp",
            RuleProto::Icmp => "icmp",
        }
    }

    /// Whether the protocol has ports.
    pub fn has_ports(self) -> bool {
        matches!(self, RuleProto::Tcp | RuleProto::Udp)
    }
}

/// One NAT rule of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatRule {
    /// Rewrite the source of packets leaving `out` to that interface's address
    /// (`iptables -t nat -A POSTROUTING -o OUT -j MASQUERADE`).
    Masquerade {
        /// The outgoing interface.
        out: String,
    },
    /// Rewrite the source of packets leaving `out` to `to` (`-j SNAT --to-source TO`).
    Snat {
        /// The outgoing interface.
        out: String,
        /// The new source address.
        to: IpAddr,
    },
    /// Port forwarding: packets arriving (on `in_iface`, if set) for `port` go to `to`
    /// (`-t nat -A PREROUTING -p PROTO --dport PORT -j DNAT --to-destination TO`).
    /// Packets the node itself sends are not forwarded.
    Dnat {
        /// The incoming interface, if restricted.
        in_iface: Option<String>,
        /// TCP or UDP.
        proto: RuleProto,
        /// The destination port matched.
        port: u16,
        /// The new destination address.
        to: IpAddr,
        /// The new destination port (default: unchanged).
        to_port: Option<u16>,
    },
}

/// The netfilter hook a filter rule sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Packets for the node itself.
    Input,
    /// Packets the node routes.
    Forward,
    /// Packets the node sends.
    Output,
}

impl Chain {
    /// The chain's name, as in nftables and iptables (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Input => "input",
            Chain::Forward => "forward",
            Chain::Output => "output",
        }
    }
}

/// What a filter rule does with a matching packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let it through (and stop looking at further rules).
    Accept,
    /// Discard it silently: a TCP connect times out.
    Drop,
    /// Discard it and tell the sender: a TCP reset (connection refused) for TCP, an
    /// ICMP port unreachable otherwise.
    Reject,
}

impl Action {
    /// The word in the topology file.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Drop => "drop",
            Action::Reject => "reject",
        }
    }
}

/// One filter rule of a node; every field set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRule {
    /// Which hook (default input).
    pub chain: Chain,
    /// What to do.
    pub action: Action,
    /// The transport protocol, if restricted.
    pub proto: Option<RuleProto>,
    /// Source prefix.
    pub from: Option<IpNet>,
    /// Destination prefix.
    pub to: Option<IpNet>,
    /// Source port (TCP or UDP).
    pub sport: Option<u16>,
    /// Destination port (TCP or UDP).
    pub dport: Option<u16>,
    /// Incoming interface.
    pub iif: Option<String>,
    /// Outgoing interface.
    pub oif: Option<String>,
}

/// A probability, in millionths (1% is 10 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ratio(pub u32);

impl Ratio {
    /// The probability as the kernel's netem takes it (a fraction of 2^32, rounded
    /// down and capped at `u32::MAX`, as `tc` computes it).
    pub fn kernel_value(self) -> u32 {
        let v = (u64::from(self.0) << 32) / 1_000_000;
        u32::try_from(v).unwrap_or(u32::MAX)
    }

    /// The probability as a fraction between 0 and 1.
    pub fn as_fraction(self) -> f64 {
        f64::from(self.0) / 1e6
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", f64::from(self.0) / 1e4)
    }
}

/// Impairments of one interface's outgoing traffic: netem's delay, jitter, loss,
/// duplication, reordering and corruption, and a rate limit (tbf).
///
/// `tc qdisc add dev IFACE root netem delay D J loss L ...` and a tbf under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impairment {
    /// Added delay.
    pub delay: Option<Duration>,
    /// Random variation of the delay (needs `delay`).
    pub jitter: Option<Duration>,
    /// Probability of dropping a packet.
    pub loss: Option<Ratio>,
    /// Probability of sending a packet twice.
    pub duplicate: Option<Ratio>,
    /// Probability of sending a packet at once, ahead of delayed ones (needs `delay`).
    pub reorder: Option<Ratio>,
    /// Probability of flipping a random bit of a packet.
    pub corrupt: Option<Ratio>,
    /// netem's queue length in packets (default 1000).
    pub limit: Option<u32>,
    /// Rate limit in bits per second (tbf).
    pub rate: Option<u64>,
    /// Bucket size in bytes for the rate limit (default: 10 ms of the rate, at least
    /// 16 KiB).
    pub burst: Option<u32>,
}

impl Impairment {
    /// Whether anything is set.
    pub fn is_empty(&self) -> bool {
        *self == Impairment::default()
    }

    /// Whether the netem qdisc is needed (anything but a rate limit is set).
    pub fn needs_netem(&self) -> bool {
        self.delay.is_some()
            || self.jitter.is_some()
            || self.loss.is_some()
            || self.duplicate.is_some()
            || self.reorder.is_some()
            || self.corrupt.is_some()
            || self.limit.is_some()
    }

    /// Checks what a topology file's parser checks of an impairment, for one built
    /// in code: delay and jitter at most 60 s, jitter and reorder only with a delay,
    /// the jitter at most the delay, probabilities at most 100%, a queue limit and a
    /// burst of at least one, a burst only with a rate, a rate between 8 bit/s and
    /// 1000 gbit/s. The error says what is wrong and how to mend it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use netns_test_topology::Impairment;
    /// let ok = Impairment {
    ///     delay: Some(Duration::from_millis(50)),
    ///     jitter: Some(Duration::from_millis(5)),
    ///     ..Impairment::default()
    /// };
    /// assert!(ok.check().is_ok());
    /// let bad = Impairment { delay: Some(Duration::from_millis(1)), ..ok };
    /// assert_eq!(
    ///     bad.check().unwrap_err(),
    ///     "jitter 5ms is larger than the delay 1ms: keep the jitter at most the delay"
    /// );
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let max = crate::impair::MAX_DELAY;
        for (what, d) in [("delay", self.delay), ("jitter", self.jitter)] {
            if let Some(d) = d.filter(|d| *d > max) {
                return Err(format!(
                    "{what} {} is out of range: keep it between 0 and {}",
                    format_duration(d),
                    format_duration(max)
                ));
            }
        }
        if self.delay.is_none() {
            for (what, set) in [
                ("jitter", self.jitter.is_some()),
                ("reorder", self.reorder.is_some()),
            ] {
                if set {
                    return Err(format!(
                        "{what} without a delay: netem's {what} works on delayed packets, \
                         so set `delay` too"
                    ));
                }
            }
        }
        if let (Some(d), Some(j)) = (self.delay, self.jitter) {
            if j > d {
                return Err(format!(
                    "jitter {} is larger than the delay {}: keep the jitter at most the delay",
                    format_duration(j),
                    format_duration(d)
                ));
            }
        }
        for (what, r) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
        ] {
            if let Some(r) = r.filter(|r| r.0 > 1_000_000) {
                return Err(format!(
                    "{what} {r} is out of range: a probability is between 0% and 100%"
                ));
            }
        }
        if self.limit == Some(0) {
            return Err("a netem limit of 0 packets would drop everything: \
                        set at least 1, or leave it unset for netem's 1000"
                .to_owned());
        }
        match (self.rate, self.burst) {
            (None, Some(_)) => {
                return Err("a burst without a rate: `burst` is the bucket size of a \
                            rate limit, so set `rate` too, or unset `burst`"
                    .to_owned());
            }
            (Some(r), _) if !crate::impair::RATES.contains(&r) => {
                return Err(format!(
                    "rate {} is out of range: a rate is between 8bit and 1000gbit",
                    format_rate(r)
                ));
            }
            (_, Some(0)) => {
                return Err("a burst of 0 bytes: set at least 1, or leave it unset for \
                            10 ms of the rate"
                    .to_owned());
            }
            _ => {}
        }
        Ok(())
    }

    /// The rate limit's bucket size in bytes.
    pub fn burst_bytes(&self) -> u32 {
        self.burst.unwrap_or_else(|| {
            let ten_ms = self.rate.unwrap_or(0) / 8 / 100;
            u32::try_from(ten_ms.max(16 * 1024)).unwrap_or(u32::MAX)
        })
    }
}

impl fmt::Display for Impairment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(d) = self.delay {
            let mut s = format!("delay {}", format_duration(d));
            if let Some(j) = self.jitter {
                s.push_str(&format!(" {}", format_duration(j)));
            }
            parts.push(s);
        }
        for (word, r) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
        ] {
            if let Some(r) = r {
                parts.push(format!("{word} {r}"));
            }
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit {l}"));
        }
        if let Some(r) = self.rate {
            parts.push(format!("rate {}", format_rate(r)));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// A rate in bits per second as `tc` writes it (`10mbit`).
pub fn format_rate(bits: u64) -> String {
    for (unit, div) in [
        ("gbit", 1_000_000_000),
        ("mbit", 1_000_000),
        ("kbit", 1_000),
    ] {
        if bits >= div && bits % div == 0 {
            return format!("{}{unit}", bits / div);
        }
    }
    format!("{bits}bit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_scale_to_the_kernel() {
        assert_eq!(Ratio(1_000_000).kernel_value(), u32::MAX);
        assert_eq!(Ratio(0).kernel_value(), 0);
        assert_eq!(Ratio(250_000).kernel_value(), 0x4000_0000);
        assert_eq!(Ratio(300_000).kernel_value(), 0x4ccc_cccc);
        assert_eq!(Ratio(10_000).to_string(), "1%");
        assert_eq!(Ratio(500).to_string(), "0.05%");
    }

    #[test]
    fn impairments_print_like_tc() {
        let i = Impairment {
            delay: Some(Duration::from_millis(50)),
            jitter: Some(Duration::from_millis(5)),
            loss: Some(Ratio(10_000)),
            rate: Some(10_000_000),
            ..Impairment::default()
        };
        assert_eq!(i.to_string(), "delay 50ms 5ms loss 1% rate 10mbit");
        assert!(i.needs_netem());
        assert_eq!(format_rate(1500), "1500bit");
        let r = Impairment {
            rate: Some(8_000_000),
            ..Impairment::default()
        };
        assert!(!r.needs_netem());
        assert_eq!(r.burst_bytes(), 16 * 1024);
    }

    #[test]
    fn impairments_built_in_code_are_checked_as_the_parser_checks_them() {
        let ms = Duration::from_millis;
        let base = Impairment {
            delay: Some(ms(50)),
            jitter: Some(ms(5)),
            loss: Some(Ratio(1_000_000)),
            reorder: Some(Ratio(0)),
            limit: Some(1),
            rate: Some(8),
            burst: Some(1),
            ..Impairment::default()
        };
        assert_eq!(base.check(), Ok(()));
        assert_eq!(Impairment::default().check(), Ok(()));
        let cases = [
            (
                Impairment {
                    delay: Some(Duration::MAX),
                    jitter: None,
                    ..base.clone()
                },
                "delay ",
                "keep it between 0 and 60s",
            ),
            (
                Impairment {
                    jitter: Some(ms(60_001)),
                    ..base.clone()
                },
                "jitter 60.001s is out of range",
                "keep it between 0 and 60s",
            ),
            (
                Impairment {
                    delay: None,
                    reorder: None,
                    ..base.clone()
                },
                "jitter without a delay",
                "set `delay` too",
            ),
            (
                Impairment {
                    delay: None,
                    jitter: None,
                    ..base.clone()
                },
                "reorder without a delay",
                "set `delay` too",
            ),
            (
                Impairment {
                    delay: Some(ms(1)),
                    ..base.clone()
                },
                "jitter 5ms is larger than the delay 1ms",
                "keep the jitter at most the delay",
            ),
            (
                Impairment {
                    corrupt: Some(Ratio(1_000_001)),
                    ..base.clone()
                },
                "corrupt 100.0001% is out of range",
                "between 0% and 100%",
            ),
            (
                Impairment {
                    limit: Some(0),
                    ..base.clone()
                },
                "limit of 0 packets",
                "set at least 1",
            ),
            (
                Impairment {
                    rate: None,
                    ..base.clone()
                },
                "a burst without a rate",
                "set `rate` too",
            ),
            (
                Impairment {
                    rate: Some(7),
                    ..base.clone()
                },
                "rate 7bit is out of range",
                "between 8bit and 1000gbit",
            ),
            (
                Impairment {
                    rate: Some(u64::MAX),
                    ..base.clone()
                },
                "is out of range",
                "between 8bit and 1000gbit",
            ),
            (
                Impairment {
                    burst: Some(0),
                    ..base.clone()
                },
                "a burst of 0 bytes",
                "set at least 1",
            ),
        ];
        for (imp, what, fix) in cases {
            let e = imp.check().unwrap_err();
            assert!(e.contains(what) && e.contains(fix), "{imp:?}: {e}");
        }
    }
}
