//! The route grammar, and routes checked against their node.

use std::net::IpAddr;

use netns_test_topology::{Family, RouteDest, RouteKind};

use crate::{check, errs, help, one, render, spanned};

/// ns1 with 192.168.1.1/24 on veth-ns1 and 10.0.0.2/16 + fd00:1::1/64 on eth0.
fn node_with(routes: &str) -> String {
    format!(
        "[nodes.ns1]\nroutes = [{routes}]\n[[links]]\nendpoints = [{{ iface = \"ns1:veth-ns1\", addresses = \"192.168.1.1/24\" }}, \"host:a\"]\n[[links]]\nendpoints = [{{ iface = \"ns1:eth0\", addresses = [\"10.0.0.2/16\", \"fd00:1::1/64\"] }}, \"host:b\"]\n"
    )
}

#[test]
fn every_form_of_the_grammar() {
    let t = crate::ok(&node_with(
        r#""192.168.2.0/24 via 192.168.1.2", "default via 192.168.1.2 metric 10",
          "10.0.0.0/8 dev veth-ns1", "10.9.9.9 via 192.168.1.2", "blackhole 10.9.0.0/16",
          "unreachable 10.8.0.0/16", "prohibit 10.7.0.0/16 metric 5", "default via fd00:1::2",
          "172.16.0.0/12 via 10.0.0.1 dev eth0 onlink", "unicast 172.17.0.0/16 dev eth0",
          "fd02::/64 via fe80::1 dev eth0", "10.1.0.0/16 metric 7 dev eth0 via 10.0.0.1""#,
    ));
    let r = &t.node("ns1").unwrap().routes;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(r[1].dest, RouteDest::Default(Family::V4));
    assert_eq!(r[1].metric, Some(10));
    assert_eq!(r[3].dest, RouteDest::Prefix("10.9.9.9/32".parse().unwrap()));
    assert_eq!(r[4].kind, RouteKind::Blackhole);
    assert_eq!(r[5].kind, RouteKind::Unreachable);
    assert_eq!(
        (r[6].kind.clone(), r[6].metric),
        (RouteKind::Prohibit, Some(5))
    );
    assert_eq!(r[7].dest, RouteDest::Default(Family::V6));
    assert_eq!(
        r[8].kind,
        RouteKind::Unicast {
            via: Some(ip("10.0.0.1")),
            dev: Some("eth0".into()),
            onlink: true
        }
    );
    assert_eq!(r[11].metric, Some(7));
}

#[test]
fn errors_point_at_the_word() {
    let src = node_with("\"10.0.0.1/8 via 192.168.1.2\"");
    let d = one(&src);
    check(
        &d,
        2,
        12,
        "route destination `10.0.0.1/8` has host bits set",
    );
    assert_eq!(spanned(&src, &d), "10.0.0.1/8");
    assert_eq!(
        help(&d),
        "write the network `10.0.0.0/8`, or `10.0.0.1` for a route to that one address"
    );
    // Literal strings map exactly too.
    let src = node_with("'10.0.0.0/8 via 192.168.1.2 mtric 5'");
    let d = one(&src);
    check(
        &d,
        2,
        39,
        "unexpected `mtric` in route `10.0.0.0/8 via 192.168.1.2 mtric 5`",
    );
    assert!(help(&d).starts_with("did you mean `metric`? a route is `[TYPE] DEST"));
    // With an escape the whole string is the span.
    let src = node_with("\"10.0.0.0/8 via 192.168.1.2\\tmtric 5\"");
    let d = one(&src);
    assert_eq!(
        spanned(&src, &d),
        "\"10.0.0.0/8 via 192.168.1.2\\tmtric 5\""
    );
}

#[test]
fn grammar_errors() {
    let cases = [
        ("\"\"", "empty route"),
        ("\"blackhole\"", "route `blackhole` has no destination"),
        (
            "\"defualt via 192.168.1.2\"",
            "invalid route destination `defualt`",
        ),
        ("\"10.0.0.0/8 via\"", "`via` needs an argument"),
        (
            "\"10.0.0.0/8 via 192.168.1.2/24\"",
            "invalid gateway address `192.168.1.2/24`",
        ),
        (
            "\"10.0.0.0/8 via 192.168.1.2 metric x\"",
            "invalid metric `x`",
        ),
        (
            "\"10.0.0.0/8 via 192.168.1.2 via 192.168.1.3\"",
            "`via` is given twice in route `10.0.0.0/8 via 192.168.1.2 via 192.168.1.3`",
        ),
        ("\"10.0.0.0/8\"", "route `10.0.0.0/8` needs `via` or `dev`"),
        (
            "\"10.0.0.0/8 metric 5 blackhole\"",
            "unexpected `blackhole` in route `10.0.0.0/8 metric 5 blackhole`",
        ),
        (
            "\"blackhole 10.0.0.0/8 via 192.168.1.2\"",
            "a `blackhole` route takes no `via`",
        ),
        (
            "\"unreachable 10.0.0.0/8 dev eth0\"",
            "a `unreachable` route takes no `dev`",
        ),
        (
            "\"10.0.0.0/8 via 192.168.1.2 onlink\"",
            "`onlink` needs both `via` and `dev`",
        ),
        (
            "\"10.0.0.0/8 via fd00:1::2\"",
            "gateway fd00:1::2 is IPv6 but the destination 10.0.0.0/8 is IPv4",
        ),
        (
            "\"fd01::/64 via fe80::1\"",
            "link-local gateway fe80::1 needs `dev`",
        ),
    ];
    for (route, msg) in cases {
        let d = one(&node_with(route));
        assert_eq!(d.message, msg, "{d}");
        assert_eq!(d.line, 2);
    }
    let d = one(&node_with("\"defualt via 192.168.1.2\""));
    assert!(help(&d).starts_with("did you mean `default`?"));
    let d = one(&node_with("\"10.0.0.0/8 metric 5 blackhole\""));
    assert_eq!(help(&d), "the route type comes first: `blackhole DEST`");
    let d = one(&node_with("5"));
    assert_eq!(
        d.message,
        "expected a route string like \"10.0.0.0/8 via 192.168.1.1\", found an integer"
    );
}

#[test]
fn dev_must_be_an_interface_of_the_node() {
    let src = node_with("\"10.0.0.0/8 dev eth1\"");
    let d = one(&src);
    check(
        &d,
        2,
        27,
        "route device `eth1` is not an interface of node `ns1`",
    );
    assert_eq!(help(&d), "interfaces of ns1: veth-ns1, eth0");
    let d = one(&node_with("\"10.0.0.0/8 dev veth_ns1\""));
    assert_eq!(
        help(&d),
        "did you mean `veth-ns1`? interfaces of ns1: veth-ns1, eth0"
    );
    // `lo` always exists.
    crate::ok(&node_with("\"10.0.0.0/8 dev lo\""));
}

#[test]
fn gateway_must_be_in_a_subnet_of_the_node() {
    let src = "[nodes.ns1]\nroutes = [\"192.168.2.0/24 via 192.168.9.1\"]\n[[links]]\nendpoints = [{ iface = \"ns1:veth-ns1\", addresses = \"192.168.1.1/24\" }, \"host:a\"]\n";
    let d = one(src);
    check(
        &d,
        2,
        31,
        "gateway 192.168.9.1 is not in any subnet of node ns1 (ns1 has 192.168.1.0/24 on veth-ns1)",
    );
    assert_eq!(spanned(src, &d), "192.168.9.1");
    assert_eq!(
        help(&d),
        "add an address in that subnet, fix the gateway, or add `onlink`"
    );

    let d = one(&node_with("\"192.168.2.0/24 via 10.0.0.1 dev veth-ns1\""));
    assert_eq!(
        d.message,
        "gateway 10.0.0.1 is not in any subnet on veth-ns1 in node ns1 (veth-ns1 has 192.168.1.0/24)"
    );
    let d = one("[nodes.ns1]\nroutes = [\"default via fd00::1\"]\n");
    assert_eq!(
        d.message,
        "gateway fd00::1 is not in any subnet of node ns1 (ns1 has no IPv6 address)"
    );
    let d = one(&node_with("\"192.168.2.0/24 via 192.168.1.1\""));
    assert_eq!(
        d.message,
        "gateway 192.168.1.1 is an address of node ns1 itself (on veth-ns1)"
    );
    // onlink, or an earlier device route, makes any gateway acceptable.
    crate::ok(&node_with(
        "\"192.168.2.0/24 via 172.16.0.1 dev eth0 onlink\"",
    ));
    crate::ok(&node_with(
        "\"172.16.0.0/12 dev eth0\", \"192.168.2.0/24 via 172.16.0.1\"",
    ));
}

#[test]
fn down_interfaces_cannot_carry_routes() {
    let src = "[nodes.ns1]\nroutes = [\"10.0.0.0/8 dev a\", \"10.1.0.0/16 via 192.168.1.2\"]\n[[links]]\nendpoints = [{ iface = \"ns1:a\", addresses = \"192.168.1.1/24\", up = false }, \"host:a\"]\n";
    let d = errs(src);
    assert_eq!(d.len(), 2, "{}", render(&d));
    assert_eq!(
        d[0].message,
        "route uses interface `a`, which is configured `up = false`"
    );
    assert_eq!(
        d[1].message,
        "gateway 192.168.1.2 is only reachable through a, which is configured `up = false`"
    );
}

#[test]
fn duplicate_routes() {
    let d = one(&node_with(
        "\"10.0.0.0/8 dev eth0\",\n\"blackhole 10.0.0.0/8\"",
    ));
    check(
        &d,
        3,
        1,
        "route to 10.0.0.0/8 with metric 0 is given twice in node `ns1`",
    );
    assert!(help(&d).starts_with("the first is on line 2;"));
    crate::ok(&node_with(
        "\"10.0.0.0/8 dev eth0\", \"blackhole 10.0.0.0/8 metric 1\"",
    ));
    crate::ok(&node_with(
        "\"default dev eth0\", \"default via fd00:1::2\"",
    ));
    // `0.0.0.0/0` is `default`, for the kernel too.
    let d = one(&node_with(
        "\"default via 192.168.1.2\", \"0.0.0.0/0 via 10.0.0.3\"",
    ));
    assert_eq!(
        d.message,
        "route to 0.0.0.0/0 with metric 0 is given twice in node `ns1`"
    );
    assert!(help(&d).starts_with("the first is on line 2;"), "{d}");
}

/// The kernel makes a route to each address's subnet when the address goes on its
/// interface (metric 0), and refuses a second one.
#[test]
fn a_route_to_a_connected_subnet() {
    let src = node_with("\"192.168.1.0/24 via 192.168.1.2\"");
    let d = one(&src);
    check(
        &d,
        2,
        11,
        "route to 192.168.1.0/24 duplicates the one the kernel makes for `veth-ns1`'s address 192.168.1.1/24",
    );
    assert_eq!(spanned(&src, &d), "\"192.168.1.0/24 via 192.168.1.2\"");
    assert!(help(&d).contains("give it a `metric`"), "{d}");
    let d = one(&node_with("\"10.0.0.0/16 dev veth-ns1\""));
    assert!(
        d.message.contains("for `eth0`'s address 10.0.0.2/16"),
        "{d}"
    );
    crate::ok(&node_with("\"192.168.1.0/24 via 192.168.1.2 metric 5\""));
    crate::ok(&node_with("\"192.168.1.0/25 via 192.168.1.2\""));
    crate::ok(&node_with("\"fd00:1::/64 via fd00:1::2\""));
}

#[test]
fn a_route_through_lo() {
    let routes = "routes = [\"10.0.0.0/8 dev lo\"]";
    crate::ok(&format!("[nodes.ns1]\n{routes}\n"));
    let src = format!("[nodes.ns1]\nloopback = false\n{routes}\n");
    let d = one(&src);
    assert_eq!(
        d.message,
        "route uses `lo`, which this node keeps down (`loopback = false`)"
    );
    assert_eq!(spanned(&src, &d), "lo");
}

#[test]
fn bad_address_does_not_cascade_into_gateway_checks() {
    let src = "[nodes.ns1]\nroutes = [\"10.1.0.0/16 via 192.168.1.2\"]\n[[links]]\nendpoints = [{ iface = \"ns1:a\", addresses = \"192.168.1.1\" }, \"host:a\"]\n";
    let d = one(src);
    assert_eq!(d.message, "address `192.168.1.1` has no prefix length");
}
