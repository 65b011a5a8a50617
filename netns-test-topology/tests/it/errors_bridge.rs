//! Bridge ports and bridge options.

use crate::{check, errs, help, one, render};

const BASE: &str = "[nodes.ns1]\n[[links]]\nendpoints = [\"ns1:eth0\", \"host:p1\"]\n[[links]]\nendpoints = [\"ns1:eth1\", \"host:p2\"]\n";

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn a_valid_bridge() {
    let t = crate::ok(&with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"p1\", \"host:p2\"]\naddresses = [\"192.168.1.1/24\"]\nstp = true\nforward_delay = 2\nmac = \"02:00:00:00:00:01\"\nup = false\nmtu = 1400\n",
    ));
    let b = &t.bridges[0];
    assert_eq!(b.ports, ["p1", "p2"]);
    assert!(b.stp && !b.config.up);
    assert_eq!((b.forward_delay, b.config.mtu), (Some(2), Some(1400)));
}

#[test]
fn port_must_exist_in_the_bridge_node() {
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"p3\"]\n",
    ));
    check(
        &d,
        8,
        10,
        "bridge port `p3` is not an interface of node `host`",
    );
    assert_eq!(help(&d), "interfaces of host: p1, p2, br0");
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"pl\"]\n",
    ));
    assert_eq!(
        help(&d),
        "did you mean `p1`? interfaces of host: p1, p2, br0"
    );
    let d = one(&with("[[bridges]]\nname = \"ns1:br0\"\nports = [\"p1\"]\n"));
    assert_eq!(
        d.message,
        "bridge port `p1` is not an interface of node `ns1`"
    );
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"ns1:eth0\"]\n",
    ));
    check(
        &d,
        8,
        11,
        "port `ns1:eth0` is in node `ns1` but bridge `br0` is in node `host`",
    );
}

#[test]
fn port_must_not_be_a_bridge() {
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\n[[bridges]]\nname = \"host:br1\"\nports = [\"br0\"]\n",
    ));
    check(&d, 10, 10, "bridge `br0` cannot be a port of bridge `br1`");
    assert!(help(&d).starts_with("join two bridges with a veth pair"));
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"br0\"]\n",
    ));
    assert_eq!(d.message, "bridge `br0` cannot be a port of itself");
}

#[test]
fn port_belongs_to_one_bridge() {
    let src = with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"p1\"]\n[[bridges]]\nname = \"host:br1\"\nports = [\"p2\", \"p1\"]\n",
    );
    let d = one(&src);
    check(
        &d,
        11,
        16,
        "interface `p1` is already a port of bridge `br0`",
    );
    assert_eq!(
        help(&d),
        "an interface can be a port of one bridge only (the first mention is on line 8)"
    );
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nports = [\"p1\", \"p1\"]\n",
    ));
    assert_eq!(d.message, "port `p1` is listed twice in bridge `br0`");
}

#[test]
fn port_must_not_carry_an_address() {
    let src = "[nodes.ns1]\n[[links]]\nendpoints = [\"ns1:eth0\", { iface = \"host:p1\", addresses = \"192.168.1.1/24\" }]\n[[bridges]]\nname = \"host:br0\"\nports = [\"p1\"]\n";
    let d = one(src);
    check(
        &d,
        3,
        59,
        "interface `host:p1` has address 192.168.1.1/24 but is a port of bridge `br0`",
    );
    assert_eq!(
        help(&d),
        "a bridge port does not use its own addresses: move the address to the bridge (`addresses` of `host:br0`)"
    );
}

#[test]
fn port_address_equal_to_the_bridge_address_is_reported_once() {
    let src = "[nodes.ns1]\n[[links]]\nendpoints = [\"ns1:eth0\", { iface = \"host:p1\", addresses = \"192.168.1.1/24\" }]\n[[bridges]]\nname = \"host:br0\"\nports = [\"p1\"]\naddresses = \"192.168.1.1/24\"\n";
    let d = one(src);
    assert!(d.message.ends_with("but is a port of bridge `br0`"), "{d}");
}

#[test]
fn forward_delay_limits() {
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nstp = true\nforward_delay = 31\n",
    ));
    check(&d, 9, 17, "forward_delay 31 is out of range");
    crate::ok(&with(
        "[[bridges]]\nname = \"host:br0\"\nforward_delay = 0\n",
    ));
    let d = one(&with(
        "[[bridges]]\nname = \"host:br0\"\nforward_delay = \"10s\"\n",
    ));
    assert_eq!(d.message, "expected an integer (seconds), found a string");
}

#[test]
fn unknown_bridge_node_does_not_cascade_into_ports() {
    let d = errs(&with(
        "[[bridges]]\nname = \"nsx:br0\"\nports = [\"p1\", \"zz\"]\n",
    ));
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].message, "unknown node `nsx` in bridge `nsx:br0`");
}
