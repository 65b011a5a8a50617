//! Link impairments as queueing disciplines, over netlink (`RTM_NEWQDISC`): netem for
//! delay, jitter, loss, duplication, reordering and corruption, tbf for a rate limit.
//!
//! `netlink-packet-route` has no netem or tbf options, so their `TCA_OPTIONS` are
//! encoded here, as `tc` (iproute2's `q_netem.c`, `q_tbf.c`) lays them out: netem's is
//! a `struct tc_netem_qopt` followed by attributes, tbf's a nest holding a `struct
//! tc_tbf_qopt` and the burst.
//!
//! With both, netem is the root (handle `1:`) and tbf its child (`parent 1:1 handle
//! 10:`), as in `tc qdisc add dev X root handle 1: netem delay 50ms; tc qdisc add dev X
//! parent 1:1 handle 10: tbf rate 10mbit burst 32kb limit ...`.

use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netns_test_topology::Impairment;

use crate::netlink::Request;

const TCA_OPTIONS: u16 = 2;
const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_LATENCY64: u16 = 8;
const TCA_NETEM_JITTER64: u16 = 9;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// `TC_LINKLAYER_ETHERNET`: with it the kernel needs no rate table.
const LINKLAYER_ETHERNET: u8 = 1;
/// netem's default queue length (packets), as `tc` sets it.
const NETEM_LIMIT: u32 = 1000;

/// The root handle `1:`.
const ROOT_HANDLE: TcHandle = TcHandle { major: 1, minor: 0 };

/// One netlink attribute: length, type, value, padding to 4 bytes.
fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(value.len() + 8);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// netem's `TCA_OPTIONS` value.
fn netem_options(imp: &Impairment) -> Vec<u8> {
    let ns = |d: Option<std::time::Duration>| d.map_or(0, |d| d.as_nanos());
    let (delay, jitter) = (ns(imp.delay), ns(imp.jitter));
    // The struct carries psched ticks (64 ns); the 64-bit attributes below are exact.
    let ticks = |n: u128| u32::try_from(n >> 6).unwrap_or(u32::MAX);
    let p = |r: Option<netns_test_topology::Ratio>| r.map_or(0, |r| r.kernel_value());
    let gap = u32::from(imp.reorder.is_some());
    // struct tc_netem_qopt { latency, limit, loss, gap, duplicate, jitter }
    let mut out = words(&[
        ticks(delay),
        imp.limit.unwrap_or(NETEM_LIMIT),
        p(imp.loss),
        gap,
        p(imp.duplicate),
        ticks(jitter),
    ]);
    if let Some(r) = imp.reorder {
        out.extend(nla(TCA_NETEM_REORDER, &words(&[r.kernel_value(), 0])));
    }
    if let Some(c) = imp.corrupt {
        out.extend(nla(TCA_NETEM_CORRUPT, &words(&[c.kernel_value(), 0])));
    }
    let s64 = |n: u128| i64::try_from(n).unwrap_or(i64::MAX).to_ne_bytes();
    if imp.delay.is_some() {
        out.extend(nla(TCA_NETEM_LATENCY64, &s64(delay)));
    }
    if imp.jitter.is_some() {
        out.extend(nla(TCA_NETEM_JITTER64, &s64(jitter)));
    }
    out
}

/// tbf's `TCA_OPTIONS` value (a nest).
fn tbf_options(imp: &Impairment) -> Vec<u8> {
    let bytes_per_sec = imp.rate.unwrap_or(0) / 8;
    let burst = imp.burst_bytes();
    // Queue up to 50 ms of traffic beyond the bucket, like `tc ... latency 50ms`.
    let limit = u64::from(burst) + bytes_per_sec / 20;
    let limit = u32::try_from(limit.max(2 * u64::from(burst))).unwrap_or(u32::MAX);
    // struct tc_ratespec { cell_log u8, linklayer u8, overhead u16, cell_align i16,
    // mpu u16, rate u32 }
    let mut rate = vec![0u8, LINKLAYER_ETHERNET, 0, 0, 0, 0, 0, 0];
    rate.extend_from_slice(
        &u32::try_from(bytes_per_sec)
            .unwrap_or(u32::MAX)
            .to_ne_bytes(),
    );
    // struct tc_tbf_qopt { rate, peakrate, limit, buffer, mtu }
    let mut parms = rate;
    parms.extend_from_slice(&[0u8; 12]);
    parms.extend(words(&[limit, 0, 0]));
    let mut out = nla(TCA_TBF_PARMS, &parms);
    if bytes_per_sec > u64::from(u32::MAX) {
        out.extend(nla(TCA_TBF_RATE64, &bytes_per_sec.to_ne_bytes()));
    }
    out.extend(nla(TCA_TBF_BURST, &burst.to_ne_bytes()));
    out
}

fn qdisc(
    index: u32,
    parent: TcHandle,
    handle: TcHandle,
    kind: &str,
    options: Vec<u8>,
) -> TcMessage {
    let mut msg = TcMessage::with_index(i32::try_from(index).unwrap_or(0));
    msg.header.parent = parent;
    msg.header.handle = handle;
    msg.attributes.push(TcAttribute::Kind(kind.to_owned()));
    msg.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, options)));
    msg
}

/// The requests that install `imp` on interface `index` (nothing for an empty one).
pub(crate) fn install(iface: &str, index: u32, imp: &Impairment) -> Vec<Request> {
    let flags = NLM_F_CREATE | NLM_F_EXCL;
    let mut out = Vec::new();
    let rate = imp
        .rate
        .map(netns_test_topology::format_rate)
        .unwrap_or_default();
    if imp.needs_netem() {
        let mut only = imp.clone();
        only.rate = None;
        out.push(Request::new(
            RouteNetlinkMessage::NewQueueDiscipline(qdisc(
                index,
                TcHandle::ROOT,
                ROOT_HANDLE,
                "netem",
                netem_options(imp),
            )),
            flags,
            format!("tc qdisc add dev {iface} root handle 1: netem {only}"),
        ));
        if imp.rate.is_some() {
            out.push(Request::new(
                RouteNetlinkMessage::NewQueueDiscipline(qdisc(
                    index,
                    TcHandle { major: 1, minor: 1 },
                    TcHandle {
                        major: 10,
                        minor: 0,
                    },
                    "tbf",
                    tbf_options(imp),
                )),
                flags,
                format!("tc qdisc add dev {iface} parent 1:1 handle 10: tbf rate {rate}"),
            ));
        }
    } else if imp.rate.is_some() {
        out.push(Request::new(
            RouteNetlinkMessage::NewQueueDiscipline(qdisc(
                index,
                TcHandle::ROOT,
                ROOT_HANDLE,
                "tbf",
                tbf_options(imp),
            )),
            flags,
            format!("tc qdisc add dev {iface} root handle 1: tbf rate {rate}"),
        ));
    }
    out
}

/// The request that removes the root qdisc of `index` (`tc qdisc del dev X root`);
/// the kernel refuses it (harmlessly) when there is none of ours.
pub(crate) fn remove(iface: &str, index: u32) -> Request {
    let mut msg = TcMessage::with_index(i32::try_from(index).unwrap_or(0));
    msg.header.parent = TcHandle::ROOT;
    Request::new(
        RouteNetlinkMessage::DelQueueDiscipline(msg),
        0,
        format!("tc qdisc del dev {iface} root"),
    )
}

/// A request that tells whether the kernel has qdisc `kind` without installing
/// anything: the qdisc without options on `lo`, which a known kind refuses with
/// `EINVAL` and an unknown one with `ENOENT`.
pub(crate) fn probe_request(kind: &str) -> Request {
    let mut msg = TcMessage::with_index(1);
    msg.header.parent = TcHandle::ROOT;
    msg.attributes.push(TcAttribute::Kind(kind.to_owned()));
    Request::new(
        RouteNetlinkMessage::NewQueueDiscipline(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("tc qdisc add dev lo root {kind} (probe)"),
    )
}

/// The qdisc kinds an impairment needs.
pub(crate) fn kinds(imp: &Impairment) -> Vec<&'static str> {
    let mut k = Vec::new();
    if imp.needs_netem() {
        k.push("netem");
    }
    if imp.rate.is_some() {
        k.push("tbf");
    }
    k
}

/// The kernel config option of a qdisc (from the probe's table).
pub(crate) fn config_option(kind: &str) -> String {
    crate::probe::QDISCS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(
            || format!("CONFIG_NET_SCH_{}", kind.to_ascii_uppercase()),
            |(_, c)| (*c).to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use netns_test_topology::Ratio;

    #[test]
    fn netem_options_lay_out_like_tc() {
        let imp = Impairment {
            delay: Some(Duration::from_millis(50)),
            jitter: Some(Duration::from_millis(5)),
            loss: Some(Ratio(1_000_000)),
            reorder: Some(Ratio(250_000)),
            ..Impairment::default()
        };
        let o = netem_options(&imp);
        // 24 bytes of struct, then reorder (12), latency64 (12), jitter64 (12).
        assert_eq!(o.len(), 24 + 12 + 12 + 12);
        let word = |i: usize| u32::from_ne_bytes(o[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!(word(0), 50_000_000 >> 6);
        assert_eq!(word(1), 1000);
        assert_eq!(word(2), u32::MAX);
        assert_eq!(word(3), 1, "reordering needs a gap of 1");
        assert_eq!(u16::from_ne_bytes([o[26], o[27]]), TCA_NETEM_REORDER);
        assert_eq!(u16::from_ne_bytes([o[38], o[39]]), TCA_NETEM_LATENCY64);
        let lat = i64::from_ne_bytes(o[40..48].try_into().unwrap());
        assert_eq!(lat, 50_000_000);
    }

    /// The bytes `tc qdisc add dev lo root handle 1: netem delay 50ms 5ms loss 30%
    /// reorder 25% corrupt 0.1%` sends (iproute2 6.1, seen with strace), before the
    /// 64-bit latency and jitter this encoder adds.
    #[test]
    fn netem_options_match_what_tc_sends() {
        let imp = Impairment {
            delay: Some(Duration::from_millis(50)),
            jitter: Some(Duration::from_millis(5)),
            loss: Some(Ratio(300_000)),
            reorder: Some(Ratio(250_000)),
            corrupt: Some(Ratio(1_000)),
            ..Impairment::default()
        };
        let tc: &[u8] = b"\xc2\xeb\x0b\x00\xe8\x03\x00\x00\xcc\xcc\xcc\x4c\x01\x00\x00\x00\x00\x00\x00\x00\x2d\x31\x01\x00\x0c\x00\x03\x00\x00\x00\x00\x40\x00\x00\x00\x00\x0c\x00\x04\x00\x37\x89\x41\x00\x00\x00\x00\x00";
        let ours = netem_options(&imp);
        if cfg!(target_endian = "little") {
            assert_eq!(&ours[..tc.len()], tc);
        }
        assert_eq!(ours.len(), tc.len() + 24);
    }

    #[test]
    fn tbf_options_carry_rate_and_burst() {
        let imp = Impairment {
            rate: Some(8_000_000),
            ..Impairment::default()
        };
        let o = tbf_options(&imp);
        assert_eq!(u16::from_ne_bytes([o[0], o[1]]), 4 + 36);
        assert_eq!(o[5], LINKLAYER_ETHERNET);
        assert_eq!(u32::from_ne_bytes(o[12..16].try_into().unwrap()), 1_000_000);
        let burst_at = 40;
        assert_eq!(
            u16::from_ne_bytes([o[burst_at + 2], o[burst_at + 3]]),
            TCA_TBF_BURST
        );
        assert_eq!(
            u32::from_ne_bytes(o[burst_at + 4..burst_at + 8].try_into().unwrap()),
            16 * 1024
        );
    }
}
