//! Interface addresses (`192.168.1.1/24`), MAC addresses and MTUs.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::MacAddr;
use crate::reader::{Ctx, Kind, Span, Val};

/// Most addresses one interface may carry.
pub(crate) const MAX_ADDRESSES: usize = 256;

/// Smallest MTU the kernel accepts for IPv4 (RFC 791).
pub(crate) const MIN_MTU: i64 = 68;
/// Largest MTU accepted.
pub(crate) const MAX_MTU: i64 = 65535;
/// Smallest MTU on which the kernel keeps IPv6 enabled (RFC 8200).
pub(crate) const MIN_MTU_V6: u32 = 1280;

/// An address with the span of the string it came from.
#[derive(Debug, Clone)]
pub(crate) struct SpannedNet {
    pub(crate) net: IpNet,
    pub(crate) span: Span,
}

/// Parses a bare IP address (no prefix length). `None` if it is not one.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Parses `A/N` where `A` is an address and `N` a prefix length for its family.
/// On failure returns the message and the help.
pub(crate) fn parse_cidr(s: &str) -> Result<IpNet, (String, String)> {
    let Some((a, n)) = s.split_once('/') else {
        return Err(match parse_ip(s) {
            Some(IpAddr::V4(_)) => (
                format!("address `{s}` has no prefix length"),
                format!(
                    "write `{s}/24` for an address in a /24 subnet, or `{s}/32` for a lone address"
                ),
            ),
            Some(IpAddr::V6(_)) => (
                format!("address `{s}` has no prefix length"),
                format!(
                    "write `{s}/64` for an address in a /64 subnet, or `{s}/128` for a lone address"
                ),
            ),
            None => (
                format!("invalid address `{}`", s.escape_debug()),
                "write an address with its prefix length, e.g. `192.168.1.1/24` or `fd00::1/64`"
                    .to_owned(),
            ),
        });
    };
    let Some(ip) = parse_ip(a) else {
        return Err((
            format!(
                "invalid IP address `{}` in `{}`",
                a.escape_debug(),
                s.escape_debug()
            ),
            "write an address with its prefix length, e.g. `192.168.1.1/24` or `fd00::1/64`"
                .to_owned(),
        ));
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let len = match n.parse::<u8>() {
        Ok(len) if len <= max && n.bytes().all(|b| b.is_ascii_digit()) => len,
        _ => {
            return Err((
                format!(
                    "invalid prefix length `{}` in `{}`",
                    n.escape_debug(),
                    s.escape_debug()
                ),
                format!("an {family} prefix length is a number from 0 to {max}"),
            ));
        }
    };
    IpNet::new(ip, len).map_err(|_| {
        (
            format!("invalid prefix length in `{}`", s.escape_debug()),
            format!("an {family} prefix length is a number from 0 to {max}"),
        )
    })
}

/// What makes `ip` unfit as an interface's own address, in words: the kernel refuses
/// the IPv6 ones, and takes the IPv4 ones only to no purpose.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_multicast() => Some("a multicast address"),
        IpAddr::V4(v4) if v4.is_unspecified() => Some("the unspecified address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("a multicast address"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("the loopback address (only `lo` has it)"),
        _ => None,
    }
}

/// Reads `addresses`: a string or an array of strings. Reports bad entries, the same
/// address twice, and more than [`MAX_ADDRESSES`]. Returns the good ones and whether
/// every entry was good.
pub(crate) fn read_addresses(ctx: &mut Ctx<'_>, v: &Val<'_>) -> (Vec<SpannedNet>, bool) {
    let expected = "an address like \"192.168.1.1/24\" or an array of them";
    let items: Vec<&Val<'_>> = match &v.kind {
        Kind::Str(_) => vec![v],
        Kind::Array(a) => a.iter().collect(),
        _ => {
            ctx.type_error(v, expected);
            return (Vec::new(), false);
        }
    };
    if items.len() > MAX_ADDRESSES {
        let msg = format!(
            "{} addresses on one interface; at most {MAX_ADDRESSES} are allowed",
            items.len()
        );
        ctx.err(&v.span, msg, "split them over several interfaces");
        return (Vec::new(), false);
    }
    let mut out: Vec<SpannedNet> = Vec::new();
    let mut all_ok = true;
    for item in items {
        let Some(s) = ctx.str_of(item, "a string like \"192.168.1.1/24\"") else {
            all_ok = false;
            continue;
        };
        let parsed = parse_cidr(s).map(|net| (net, special(net.addr())));
        match parsed {
            Ok((net, Some(what))) => {
                all_ok = false;
                ctx.err(
                    &item.span,
                    format!(
                        "{} is {what}, not an address an interface can have",
                        net.addr()
                    ),
                    "give the interface a unicast address, e.g. `192.168.1.1/24` or `fd00::1/64`",
                );
            }
            Ok((net, None)) => {
                if let Some(first) = out.iter().find(|o| o.net.addr() == net.addr()) {
                    let line = line_of(ctx.src, first.span.start);
                    let msg = format!("address {} is listed twice on this interface", net.addr());
                    ctx.err(
                        &item.span,
                        msg,
                        format!("remove one (the first is on line {line})"),
                    );
                } else {
                    out.push(SpannedNet {
                        net,
                        span: item.span.clone(),
                    });
                }
            }
            Err((msg, help)) => {
                all_ok = false;
                ctx.err(&item.span, msg, help);
            }
        }
    }
    (out, all_ok)
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Reads a MAC address string: six hex octets with `:`, unicast, not all zero.
pub(crate) fn read_mac(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<MacAddr> {
    let s = ctx.str_of(v, "a MAC address like \"02:00:00:00:00:01\"")?;
    let example = "write six two-digit hex octets separated by `:`, e.g. `02:00:00:00:00:01`";
    let parts: Vec<&str> = s.split(':').collect();
    let mut bytes = [0u8; 6];
    let well_formed = parts.len() == 6
        && parts.iter().zip(bytes.iter_mut()).all(|(p, b)| {
            p.len() == 2
                && p.bytes().all(|c| c.is_ascii_hexdigit())
                && u8::from_str_radix(p, 16).map(|x| *b = x).is_ok()
        });
    if !well_formed {
        ctx.err(
            &v.span,
            format!("invalid MAC address `{}`", s.escape_debug()),
            example,
        );
        return None;
    }
    let mac = MacAddr(bytes);
    if bytes == [0; 6] {
        let help = "use a locally administered address such as `02:00:00:00:00:01`";
        ctx.err(
            &v.span,
            "MAC address 00:00:00:00:00:00 is not allowed",
            help,
        );
        return None;
    }
    if bytes[0] & 1 == 1 {
        let mut fixed = bytes;
        fixed[0] &= !1;
        let msg = format!(
            "MAC address {mac} is a multicast address (the low bit of its first octet is set)"
        );
        let help = format!(
            "an interface needs a unicast address, e.g. `{}`",
            MacAddr(fixed)
        );
        ctx.err(&v.span, msg, help);
        return None;
    }
    Some(mac)
}

/// Reads an MTU: an integer in 68..=65535.
pub(crate) fn read_mtu(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<u32> {
    let mtu = ctx.int_in(v, "MTU", MIN_MTU, MAX_MTU)?;
    u32::try_from(mtu).ok()
}
