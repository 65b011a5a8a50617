//! Addresses, MTUs, MACs, and duplicate addresses in a layer 2 segment.

use crate::{check, help, one, spanned};

fn end(settings: &str) -> String {
    format!("[[links]]\nendpoints = [{{ iface = \"host:a\", {settings} }}, \"host:b\"]\n")
}

#[test]
fn addresses_need_a_prefix_length() {
    let src = end("addresses = \"192.168.1.1\"");
    let d = one(&src);
    check(&d, 2, 46, "address `192.168.1.1` has no prefix length");
    assert_eq!(spanned(&src, &d), "\"192.168.1.1\"");
    assert_eq!(
        help(&d),
        "write `192.168.1.1/24` for an address in a /24 subnet, or `192.168.1.1/32` for a lone address"
    );
    let d = one(&end("addresses = [\"fd00::1\"]"));
    assert_eq!(
        help(&d),
        "write `fd00::1/64` for an address in a /64 subnet, or `fd00::1/128` for a lone address"
    );
}

#[test]
fn malformed_addresses() {
    let d = one(&end("addresses = \"192.168.1.300/24\""));
    check(
        &d,
        2,
        46,
        "invalid IP address `192.168.1.300` in `192.168.1.300/24`",
    );
    let d = one(&end("addresses = \"10.0.0.1/33\""));
    assert_eq!(d.message, "invalid prefix length `33` in `10.0.0.1/33`");
    assert_eq!(help(&d), "an IPv4 prefix length is a number from 0 to 32");
    let d = one(&end("addresses = \"fd00::1/+64\""));
    assert_eq!(d.message, "invalid prefix length `+64` in `fd00::1/+64`");
    let d = one(&end("addresses = \"eth0\""));
    assert_eq!(d.message, "invalid address `eth0`");
    let d = one(&end("addresses = 5"));
    assert_eq!(
        d.message,
        "expected an address like \"192.168.1.1/24\" or an array of them, found an integer"
    );
}

/// Addresses no interface can have: the kernel refuses the IPv6 ones ("Cannot
/// assign multicast address", "Invalid address", "Cannot assign loopback address on
/// this device") and takes the IPv4 ones to no purpose.
#[test]
fn addresses_that_are_not_an_interfaces_own() {
    for (addr, what) in [
        ("224.0.0.5/24", "a multicast address"),
        ("0.0.0.0/24", "the unspecified address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("ff02::5/64", "a multicast address"),
        ("::/64", "the unspecified address"),
        ("::1/128", "the loopback address (only `lo` has it)"),
    ] {
        let src = end(&format!("addresses = [\"10.0.0.1/24\", \"{addr}\"]"));
        let d = one(&src);
        let ip = addr.split('/').next().unwrap();
        assert_eq!(
            d.message,
            format!("{ip} is {what}, not an address an interface can have")
        );
        assert_eq!(spanned(&src, &d), format!("\"{addr}\""));
        assert!(help(&d).contains("a unicast address"), "{d}");
    }
    crate::ok(&end(
        "addresses = [\"10.0.0.0/24\", \"169.254.1.1/16\", \"fe80::5/64\"]",
    ));
}

#[test]
fn same_address_twice_on_one_interface() {
    let src = end("addresses = [\"10.0.0.1/24\",\n  \"10.0.0.1/16\"]");
    let d = one(&src);
    check(
        &d,
        3,
        3,
        "address 10.0.0.1 is listed twice on this interface",
    );
    assert_eq!(help(&d), "remove one (the first is on line 2)");
}

#[test]
fn mtu_range_and_ipv6() {
    let d = one(&end("mtu = 67"));
    check(&d, 2, 40, "MTU 67 is out of range");
    assert_eq!(help(&d), "MTU must be between 68 and 65535");
    let d = one(&end("mtu = 65536"));
    assert_eq!(d.message, "MTU 65536 is out of range");
    crate::ok(&end("mtu = 1279, addresses = \"10.0.0.1/24\""));
    let src = "[[links]]\nmtu = 1000\nendpoints = [{ iface = \"host:a\", addresses = \"fd00::1/64\" }, \"host:b\"]\n";
    let d = one(src);
    check(
        &d,
        2,
        7,
        "MTU 1000 is too small for IPv6 address fd00::1/64 on `host:a`",
    );
    assert_eq!(
        help(&d),
        "IPv6 needs an MTU of at least 1280: raise `mtu`, or remove the IPv6 address"
    );
    // An end's own MTU overrides the link's.
    let t = crate::ok(
        "[[links]]\nmtu = 1000\nendpoints = [{ iface = \"host:a\", mtu = 1500, addresses = \"fd00::1/64\" }, \"host:b\"]\n",
    );
    assert_eq!(t.links[0].ends[0].config.mtu, Some(1500));
    assert_eq!(t.links[0].ends[1].config.mtu, Some(1000));
}

#[test]
fn mac_addresses() {
    let t = crate::ok(&end("mac = \"02:00:00:00:01:0A\""));
    assert_eq!(
        t.links[0].ends[0].config.mac.unwrap().to_string(),
        "02:00:00:00:01:0a"
    );
    let d = one(&end("mac = \"02:00:00:00:01\""));
    check(&d, 2, 40, "invalid MAC address `02:00:00:00:01`");
    assert_eq!(
        help(&d),
        "write six two-digit hex octets separated by `:`, e.g. `02:00:00:00:00:01`"
    );
    let d = one(&end("mac = \"02-00-00-00-00-01\""));
    assert_eq!(d.message, "invalid MAC address `02-00-00-00-00-01`");
    let d = one(&end("mac = \"01:00:5e:00:00:01\""));
    assert_eq!(
        d.message,
        "MAC address 01:00:5e:00:00:01 is a multicast address (the low bit of its first octet is set)"
    );
    assert_eq!(
        help(&d),
        "an interface needs a unicast address, e.g. `00:00:5e:00:00:01`"
    );
    let d = one(&end("mac = \"00:00:00:00:00:00\""));
    assert_eq!(d.message, "MAC address 00:00:00:00:00:00 is not allowed");
}

#[test]
fn duplicate_address_in_one_segment() {
    let src = "[nodes.ns1]\n[nodes.ns2]\n[[links]]\nendpoints = [\n  { iface = \"ns1:a\", addresses = \"10.0.0.1/24\" },\n  { iface = \"ns2:b\", addresses = \"10.0.0.1/24\" },\n]\n";
    let d = one(src);
    check(
        &d,
        6,
        34,
        "address 10.0.0.1 is used twice in one layer 2 segment: on `ns1:a` and on `ns2:b`",
    );
    assert_eq!(
        help(&d),
        "the first is on line 5; give every interface of a segment its own address"
    );
}

#[test]
fn duplicate_address_across_a_bridge() {
    let src = r#"[nodes.ns1]
[nodes.ns2]
[[links]]
endpoints = [{ iface = "ns1:eth0", addresses = "192.168.1.2/24" }, "host:p1"]
[[links]]
endpoints = [{ iface = "ns2:eth0", addresses = "192.168.1.2/24" }, "host:p2"]
[[bridges]]
name = "host:br0"
ports = ["p1", "p2"]
"#;
    let d = one(src);
    check(
        &d,
        6,
        48,
        "address 192.168.1.2 is used twice in one layer 2 segment: on `ns1:eth0` and on `ns2:eth0`",
    );
    // Without the bridge the two segments are unrelated: fine.
    crate::ok(src.split("[[bridges]]").next().unwrap());
}
