//! Reading the kind-specific settings of a `[[devices]]` entry.
//!
//! ```toml
//! [[devices]]                 # VXLAN, a bridge port joining two machines' segments
//! kind = "vxlan"
//! name = "hostA:vxlan1070"
//! vni = 1070
//! remote = "10.0.2.16"        # or an array; or `group = "239.0.4.46"` with `dev`
//! local = "10.0.2.15"
//! dev = "eth0"                # underlay interface, in the same node
//! dstport = 4789
//!
//! [[devices]]
//! kind = "macvlan"            # also "ipvlan" (mode l2|l3|l3s) and "vlan" (id = 10)
//! name = "ns1:mv0"
//! parent = "host:eth0"        # created there, moved into ns1
//! mode = "bridge"             # private | vepa | bridge | passthru
//!
//! [[devices]]
//! kind = "gre"                # also "ipip" and "sit"
//! name = "ns1:gre1"
//! local = "10.0.0.1"
//! remote = "10.0.0.2"
//!
//! [[devices]]
//! kind = "tap"                # or "tun": the test body gets the file descriptor
//! name = "ns1:tap0"
//! ```

use std::net::IpAddr;

use crate::addr::parse_ip;
use crate::ast::{IfaceDecl, RefDecl};
use crate::elements::{DeviceSettings, IfaceName, IpvlanMode, MacvlanMode, Tunnel, Vxlan};
use crate::model::DeviceKind;
use crate::names::split_ref;
use crate::reader::{Ctx, Field, Kind, Val, get};
use crate::rules::choice;

/// Every device kind, as written in `kind = "..."`.
pub(crate) const KINDS: &[&str] = &[
    "dummy", "vxlan", "macvlan", "ipvlan", "vlan", "tun", "tap", "ipip", "gre", "sit",
];

/// The devices tunnel modules create in every namespace.
const FALLBACK_NAMES: &[&str] = &[
    "tunl0", "gre0", "gretap0", "erspan0", "sit0", "ip6tnl0", "ip6gre0", "ip_vti0", "ip6_vti0",
];

/// The keys every device accepts.
pub(crate) const COMMON_KEYS: &[&str] = &[
    "kind",
    "name",
    "addresses",
    "mtu",
    "mac",
    "up",
    "netem",
    "rate",
    "burst",
];

/// The keys a kind accepts beyond [`COMMON_KEYS`].
pub(crate) fn kind_keys(kind: DeviceKind) -> &'static [&'static str] {
    match kind {
        DeviceKind::Vxlan => &[
            "vni", "remote", "group", "local", "dev", "dstport", "learning", "ttl",
        ],
        DeviceKind::Macvlan | DeviceKind::Ipvlan => &["parent", "mode"],
        DeviceKind::Vlan => &["parent", "id"],
        DeviceKind::Ipip | DeviceKind::Gre | DeviceKind::Sit => &["local", "remote", "ttl"],
        _ => &[],
    }
}

/// Reads `kind = "..."`.
pub(crate) fn read_kind(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<DeviceKind> {
    let s = ctx.str_of(v, "a device kind like \"dummy\"")?;
    let kind = match s {
        "dummy" => DeviceKind::Dummy,
        "vxlan" => DeviceKind::Vxlan,
        "macvlan" => DeviceKind::Macvlan,
        "ipvlan" => DeviceKind::Ipvlan,
        "vlan" => DeviceKind::Vlan,
        "tun" => DeviceKind::Tun,
        "tap" => DeviceKind::Tap,
        "ipip" => DeviceKind::Ipip,
        "gre" => DeviceKind::Gre,
        "sit" => DeviceKind::Sit,
        other => {
            let msg = format!("unknown device kind `{}`", other.escape_debug());
            let help = format!(
                "{}supported kinds: {} (veth pairs go in `[[links]]`, bridges in `[[bridges]]`)",
                crate::suggest::did_you_mean(other, KINDS.iter().copied()),
                KINDS.join(", ")
            );
            ctx.err(&v.span, msg, help);
            return None;
        }
    };
    Some(kind)
}

/// Reads the settings of a device of `kind`; references to other interfaces are added
/// to `refs` for validation.
pub(crate) fn read_settings(
    ctx: &mut Ctx<'_>,
    kind: DeviceKind,
    fields: &[Field<'_>],
    item: &Val<'_>,
    dev: &IfaceDecl,
    refs: &mut Vec<RefDecl>,
) -> Option<DeviceSettings> {
    Some(match kind {
        DeviceKind::Vxlan => DeviceSettings::Vxlan(read_vxlan(ctx, fields, item, dev, refs)?),
        DeviceKind::Macvlan => {
            let parent = parent(ctx, fields, item, dev, refs)?;
            let mode = match get(fields, "mode") {
                Some(m) => match choice(
                    ctx,
                    m,
                    "macvlan mode",
                    &["private", "vepa", "bridge", "passthru"],
                )? {
                    "private" => MacvlanMode::Private,
                    "vepa" => MacvlanMode::Vepa,
                    "passthru" => MacvlanMode::Passthru,
                    _ => MacvlanMode::Bridge,
                },
                None => MacvlanMode::Bridge,
            };
            DeviceSettings::Macvlan { parent, mode }
        }
        DeviceKind::Ipvlan => {
            let parent = parent(ctx, fields, item, dev, refs)?;
            let mode = match get(fields, "mode") {
                Some(m) => match choice(ctx, m, "ipvlan mode", &["l2", "l3", "l3s"])? {
                    "l3" => IpvlanMode::L3,
                    "l3s" => IpvlanMode::L3s,
                    _ => IpvlanMode::L2,
                },
                None => IpvlanMode::L2,
            };
            DeviceSettings::Ipvlan { parent, mode }
        }
        DeviceKind::Vlan => {
            let parent = parent(ctx, fields, item, dev, refs);
            let id = ctx
                .require(fields, "id", &item.span, "a vlan device", "id = 10")
                .and_then(|v| ctx.int_in(v, "VLAN id", 1, 4094))
                .and_then(|i| u16::try_from(i).ok());
            DeviceSettings::Vlan {
                parent: parent?,
                id: id?,
            }
        }
        DeviceKind::Ipip | DeviceKind::Gre | DeviceKind::Sit => {
            if FALLBACK_NAMES.contains(&dev.name.as_str()) {
                let msg = format!(
                    "`{}` is the name of the kernel's fallback tunnel device",
                    dev.name
                );
                let help = format!(
                    "a kernel with {} tunnels puts a `{}` in every namespace: name yours otherwise, e.g. `{}1`",
                    kind.name(),
                    dev.name,
                    kind.name()
                );
                ctx.err(&dev.name_span, msg, help);
                return None;
            }
            DeviceSettings::Tunnel(read_tunnel(ctx, kind, fields, item)?)
        }
        _ => DeviceSettings::None,
    })
}

fn parent(
    ctx: &mut Ctx<'_>,
    fields: &[Field<'_>],
    item: &Val<'_>,
    dev: &IfaceDecl,
    refs: &mut Vec<RefDecl>,
) -> Option<IfaceName> {
    let v = ctx.require(
        fields,
        "parent",
        &item.span,
        "this device",
        "parent = \"eth0\"",
    )?;
    let s = ctx.str_of(v, "an interface like \"eth0\" or \"host:eth0\"")?;
    let r = split_ref(ctx, s, &v.span, "parent", true)?;
    let node = r.node.map_or_else(|| dev.node.clone(), |(n, _)| n);
    if node == dev.node && r.iface == dev.name {
        ctx.err(
            &v.span,
            format!("`{}` cannot be its own parent", dev.name),
            "name the lower interface, e.g. a veth end",
        );
        return None;
    }
    refs.push(RefDecl {
        node: node.clone(),
        iface: r.iface.clone(),
        span: v.span.clone(),
        what: "parent",
    });
    Some(IfaceName {
        node,
        iface: r.iface,
    })
}

fn addr(ctx: &mut Ctx<'_>, v: &Val<'_>, what: &str) -> Option<IpAddr> {
    let s = ctx.str_of(v, "an IP address like \"10.0.0.1\"")?;
    let a = parse_ip(s);
    if a.is_none() {
        let msg = format!("invalid {what} address `{}`", s.escape_debug());
        ctx.err(
            &v.span,
            msg,
            "write an address without prefix length, e.g. `10.0.0.1`",
        );
    }
    a
}

fn read_vxlan(
    ctx: &mut Ctx<'_>,
    fields: &[Field<'_>],
    item: &Val<'_>,
    dev: &IfaceDecl,
    refs: &mut Vec<RefDecl>,
) -> Option<Vxlan> {
    let vni = ctx
        .require(fields, "vni", &item.span, "a vxlan device", "vni = 1070")
        .and_then(|v| ctx.int_in(v, "VNI", 0, (1 << 24) - 1))
        .and_then(|v| u32::try_from(v).ok());
    let mut remotes = Vec::new();
    if let Some(v) = get(fields, "remote") {
        let list: Vec<&Val<'_>> = match &v.kind {
            Kind::Array(a) => a.iter().collect(),
            _ => vec![v],
        };
        for r in list {
            let a = addr(ctx, r, "remote")?;
            if a.is_multicast() {
                let msg = format!("remote {a} is a multicast address");
                ctx.err(
                    &r.span,
                    msg,
                    format!("write `group = \"{a}\"` (with `dev`) for a multicast group"),
                );
                return None;
            }
            if let Some(first) = remotes
                .first()
                .filter(|f: &&IpAddr| f.is_ipv4() != a.is_ipv4())
            {
                let msg = format!("remote {a} is not of the family of the first remote, {first}");
                ctx.err(
                    &r.span,
                    msg,
                    "a VXLAN device reaches its remotes over one family: make them all IPv4 or all IPv6",
                );
                return None;
            }
            remotes.push(a);
        }
    }
    let group = match get(fields, "group") {
        Some(g) => {
            let a = addr(ctx, g, "group")?;
            if !a.is_multicast() {
                let msg = format!("group {a} is not a multicast address");
                ctx.err(
                    &g.span,
                    msg,
                    format!(
                        "write `remote = \"{a}\"` for a unicast peer, or a group like 239.0.4.46"
                    ),
                );
                return None;
            }
            if !remotes.is_empty() {
                ctx.err(
                    &g.span,
                    "`group` and `remote` together",
                    "a VXLAN sends to either a multicast group or unicast remotes: keep one",
                );
                return None;
            }
            if get(fields, "dev").is_none() {
                ctx.err(
                    &g.span,
                    "a multicast `group` needs `dev`",
                    "name the underlay interface the group is joined on, e.g. `dev = \"eth0\"`",
                );
                return None;
            }
            Some(a)
        }
        None => None,
    };
    if remotes.is_empty() && group.is_none() {
        ctx.err(
            &item.span,
            "a vxlan device needs `remote` or `group`",
            "add `remote = \"10.0.2.16\"` (the other machine's underlay address) or `group = \"239.0.4.46\"` with `dev`",
        );
        return None;
    }
    let local = match get(fields, "local") {
        Some(l) => {
            let a = addr(ctx, l, "local")?;
            let peer = group.or(remotes.first().copied());
            if let Some(p) = peer.filter(|p| p.is_ipv4() != a.is_ipv4()) {
                let msg = format!("local {a} and {p} are of different families");
                ctx.err(
                    &l.span,
                    msg,
                    "the kernel wants the local address and the remote or group of one family: make them both IPv4 or both IPv6",
                );
                return None;
            }
            Some(a)
        }
        None => None,
    };
    let dev_name = match get(fields, "dev") {
        Some(d) => {
            let s = ctx.str_of(d, "an interface name like \"eth0\"")?;
            refs.push(RefDecl {
                node: dev.node.clone(),
                iface: s.to_owned(),
                span: d.span.clone(),
                what: "vxlan underlay",
            });
            Some(s.to_owned())
        }
        None => None,
    };
    let dstport = match get(fields, "dstport") {
        Some(p) => u16::try_from(ctx.int_in(p, "dstport", 1, 65535)?).ok()?,
        None => 4789,
    };
    let learning = match get(fields, "learning") {
        Some(l) => ctx.bool_of(l)?,
        None => true,
    };
    let ttl = match get(fields, "ttl") {
        Some(t) => Some(u8::try_from(ctx.int_in(t, "ttl", 1, 255)?).ok()?),
        None => None,
    };
    Some(Vxlan {
        vni: vni?,
        remotes,
        group,
        local,
        dev: dev_name,
        dstport,
        learning,
        ttl,
    })
}

fn read_tunnel(
    ctx: &mut Ctx<'_>,
    kind: DeviceKind,
    fields: &[Field<'_>],
    item: &Val<'_>,
) -> Option<Tunnel> {
    let example = "remote = \"10.0.0.2\"";
    let remote = ctx
        .require(fields, "remote", &item.span, "a tunnel", example)
        .and_then(|r| addr(ctx, r, "remote").map(|a| (a, r.span.clone())));
    let local = match get(fields, "local") {
        Some(l) => Some((addr(ctx, l, "local")?, l.span.clone())),
        None => None,
    };
    let ttl = match get(fields, "ttl") {
        Some(t) => Some(u8::try_from(ctx.int_in(t, "ttl", 1, 255)?).ok()?),
        None => None,
    };
    let (remote, rspan) = remote?;
    // ipip, gre (this kind) and sit carry traffic over IPv4.
    for (a, span) in [(Some(remote), &rspan)]
        .into_iter()
        .chain(local.as_ref().map(|(a, s)| (Some(*a), s)))
    {
        if let Some(IpAddr::V6(v6)) = a {
            let msg = format!("{} tunnel endpoint {v6} is IPv6", kind.kernel_kind());
            ctx.err(
                span,
                msg,
                "ipip, gre and sit tunnels run over IPv4: use IPv4 underlay addresses",
            );
            return None;
        }
    }
    Some(Tunnel {
        local: local.map(|l| l.0),
        remote,
        ttl,
    })
}

#[cfg(test)]
mod tests {
    use crate::elements::{DeviceSettings, MacvlanMode};
    use crate::parse;

    const BASE: &str = "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [{ iface = \"a:eth0\", addresses = \"10.0.2.15/24\" }, { iface = \"b:eth0\", addresses = \"10.0.2.16/24\" }]\n";

    fn with(dev: &str) -> String {
        format!("{BASE}[[devices]]\n{dev}\n")
    }

    fn err(dev: &str) -> String {
        parse(&with(dev), "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn devices_are_read() {
        let t = parse(
            &with("kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1070\nremote = \"10.0.2.16\"\ndev = \"eth0\"\n[[devices]]\nkind = \"macvlan\"\nname = \"b:mv0\"\nparent = \"a:eth0\"\nmode = \"private\"\n[[devices]]\nkind = \"tap\"\nname = \"b:tap0\""),
            "t",
        )
        .unwrap();
        match &t.devices[0].settings {
            DeviceSettings::Vxlan(v) => {
                assert_eq!(v.vni, 1070);
                assert_eq!(v.dstport, 4789);
                assert_eq!(v.dev.as_deref(), Some("eth0"));
            }
            other => panic!("{other:?}"),
        }
        match &t.devices[1].settings {
            DeviceSettings::Macvlan { parent, mode } => {
                assert_eq!(parent.to_string(), "a:eth0");
                assert_eq!(*mode, MacvlanMode::Private);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.devices[2].kind.kernel_kind(), "tun");
    }

    #[test]
    fn device_mistakes_are_explained() {
        let e = err("kind = \"vxlna\"\nname = \"a:vx0\"");
        assert!(e.contains("unknown device kind `vxlna`"), "{e}");
        let e = err("kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1070");
        assert!(
            e.contains("a vxlan device needs `remote` or `group`"),
            "{e}"
        );
        let e = err("kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 16777216\nremote = \"10.0.2.16\"");
        assert!(e.contains("VNI 16777216 is out of range"), "{e}");
        let e = err("kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1\ngroup = \"239.0.4.46\"");
        assert!(e.contains("a multicast `group` needs `dev`"), "{e}");
        let e = err("kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1\nremote = \"239.0.4.46\"");
        assert!(
            e.contains("remote 239.0.4.46 is a multicast address"),
            "{e}"
        );
        // One family: the kernel refuses a mix ("Address family not supported",
        // "Local and remote address must be from the same family").
        let e = err(
            "kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1\nremote = [\"10.0.0.2\", \"fd00::9\"]",
        );
        assert!(
            e.contains("remote fd00::9 is not of the family of the first remote, 10.0.0.2"),
            "{e}"
        );
        let e = err(
            "kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1\nremote = \"10.0.0.2\"\nlocal = \"fd00::1\"",
        );
        assert!(
            e.contains("local fd00::1 and 10.0.0.2 are of different families"),
            "{e}"
        );
        let six = "kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1\nremote = [\"fd00::2\", \"fd00::3\"]\nlocal = \"fd00::1\"";
        parse(&with(six), "t.toml").unwrap();
        let e = err(
            "kind = \"vxlan\"\nname = \"a:vx0\"\nvni = 1\nremote = \"10.0.2.16\"\ndev = \"eht0\"",
        );
        assert!(
            e.contains("vxlan underlay `eht0` is not an interface of node `a`"),
            "{e}"
        );
        assert!(e.contains("interfaces of a: eth0, vx0"), "{e}");
        let e = err("kind = \"macvlan\"\nname = \"a:mv0\"\nparent = \"eth0\"\nmode = \"bridged\"");
        assert!(e.contains("unknown macvlan mode `bridged`"), "{e}");
        assert!(e.contains("did you mean `bridge`?"), "{e}");
        let e = err("kind = \"macvlan\"\nname = \"a:mv0\"");
        assert!(e.contains("missing key `parent` in this device"), "{e}");
        let e = err("kind = \"macvlan\"\nname = \"a:mv0\"\nparent = \"c:eth0\"");
        assert!(e.contains("parent `c:eth0`: unknown node `c`"), "{e}");
        let e = err("kind = \"vlan\"\nname = \"a:eth0.5\"\nparent = \"eth0\"\nid = 4095");
        assert!(e.contains("VLAN id 4095 is out of range"), "{e}");
        let e = err("kind = \"gre\"\nname = \"a:gre1\"\nremote = \"fd00::2\"");
        assert!(e.contains("gre tunnel endpoint fd00::2 is IPv6"), "{e}");
        let e = err("kind = \"gre\"\nname = \"a:gre1\"\nvni = 5\nremote = \"10.0.2.16\"");
        assert!(e.contains("unknown key `vni` in a gre device"), "{e}");
        let e = err("kind = \"gre\"\nname = \"a:gre0\"\nremote = \"10.0.2.16\"");
        assert!(
            e.contains("`gre0` is the name of the kernel's fallback tunnel device"),
            "{e}"
        );
        let e = err("kind = \"ipvlan\"\nname = \"a:ipv0\"\nparent = \"eth0\"\nmode = \"l4\"");
        assert!(e.contains("unknown ipvlan mode `l4`"), "{e}");
    }
}
