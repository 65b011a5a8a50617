//! The seed topologies of SEEDS.md (S1-S6), each checked the way its walk-through
//! checks it: pings both ways, TTLs, "Network is unreachable" before routes exist, and
//! hop-by-hop paths.

use std::io::ErrorKind;
use std::net::IpAddr;

use netns_test::{Net, netns_test};

/// Pings `dest` from `from` and returns the reply's TTL, with a useful panic message.
fn ttl(net: &Net, from: &str, dest: &str) -> u8 {
    match net.node(from).ping(dest) {
        Ok(r) => r.ttl,
        Err(e) => panic!("{from} -> {dest}: {e}"),
    }
}

/// Asserts that `from` cannot send to `dest` at all: the kernel refuses at once with
/// "Network is unreachable" (no route), rather than the probe timing out.
fn assert_no_route(net: &Net, from: &str, dest: &str) {
    let err = net
        .node(from)
        .ping(dest)
        .expect_err("ping should fail without a route");
    assert_eq!(
        err.io_kind(),
        Some(ErrorKind::NetworkUnreachable),
        "{from} -> {dest}: expected `Network is unreachable`, got: {err}"
    );
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn s1_veth_pair_pings_both_ways_with_ttl_64(net: &Net) {
    assert_eq!(ttl(net, "ns1", "192.168.1.2"), 64);
    assert_eq!(ttl(net, "ns2", "192.168.1.1"), 64);
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn s1_lo_is_up_in_every_node(net: &Net) {
    for node in ["ns1", "ns2"] {
        let lo = net.node(node).interface("lo").unwrap();
        assert!(lo.up, "lo is down in {node}");
        assert_eq!(ttl(net, node, "127.0.0.1"), 64);
    }
}

#[netns_test(topology = "../fixtures/s2.toml")]
fn s2_host_and_namespace_ping_each_other(net: &Net) {
    assert_eq!(ttl(net, "host", "10.1.1.2"), 64);
    assert_eq!(ttl(net, "netns1", "10.1.1.1"), 64);
}

#[netns_test(topology = "../fixtures/s2.toml")]
fn s2_without_a_route_the_outside_is_unreachable_at_once(net: &Net) {
    // A documentation address: nothing is sent, the kernel has no route for it.
    assert_no_route(net, "netns1", "198.51.100.7");
}

#[netns_test(topology = "../fixtures/s2.toml")]
fn s2_an_interface_moves_back_to_the_host(net: &Net) {
    let netns1 = net.node("netns1");
    netns1.move_interface("veth1", net.host()).unwrap();
    let err = netns1.interface("veth1").unwrap_err();
    assert!(
        matches!(err, netns_test::Error::UnknownInterface { .. }),
        "{err}"
    );
    let moved = net.host().interface("veth1").unwrap();
    assert!(
        moved.addresses.iter().all(|a| !a.addr().is_ipv4()),
        "addresses are dropped on a move"
    );
    // Both ends are in the host now; the old node only has lo.
    let names = crate::common::own_interfaces(netns1);
    assert_eq!(names, ["lo"]);
    // An interface the node lacks, by name: the node's own list (with the kernel's
    // fallback tunnels, where it makes them), not a bare errno.
    let all: Vec<String> = netns1
        .interfaces()
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    for err in [
        netns1.move_interface("veth1", net.host()).unwrap_err(),
        netns1.set_link_up("veth1", true).unwrap_err(),
    ] {
        match &err {
            netns_test::Error::UnknownInterface { node, name, known } => {
                assert_eq!((node.as_str(), name.as_str()), ("netns1", "veth1"));
                assert_eq!(known, &all);
                assert!(known.iter().any(|k| k == "lo"), "{known:?}");
            }
            other => panic!("expected UnknownInterface, got {other}"),
        }
    }
}

#[netns_test(topology = "../fixtures/s3.toml")]
fn s3_every_namespace_pings_every_other_across_the_bridge(net: &Net) {
    let nodes = ["ns1", "ns2", "ns3"];
    for (i, from) in nodes.iter().enumerate() {
        for j in 0..nodes.len() {
            if i != j {
                let dest = format!("192.168.1.{}", j + 1);
                assert_eq!(ttl(net, from, &dest), 64, "a bridge is not a hop");
            }
        }
    }
}

#[netns_test(topology = "../fixtures/s4-noroutes.toml")]
fn s4_before_routes_the_other_subnet_is_unreachable(net: &Net) {
    assert_no_route(net, "ns1", "192.168.2.2");
    assert_no_route(net, "ns2", "192.168.1.2");
    // The router itself is directly connected.
    assert_eq!(ttl(net, "ns1", "192.168.1.1"), 64);
}

#[netns_test(topology = "../fixtures/s4.toml")]
fn s4_one_router_hop_means_ttl_63(net: &Net) {
    assert_eq!(ttl(net, "ns1", "192.168.2.2"), 63);
    assert_eq!(ttl(net, "ns2", "192.168.1.2"), 63);
}

#[netns_test(topology = "../fixtures/s4-host-router.toml")]
fn s4_the_host_can_be_the_router(net: &Net) {
    assert_eq!(ttl(net, "ns1", "192.168.2.2"), 63);
    assert_eq!(ttl(net, "ns2", "192.168.1.2"), 63);
}

#[netns_test(topology = "../fixtures/s5-nodefault.toml")]
fn s5_before_default_routes_only_the_bridge_subnet_is_reachable(net: &Net) {
    assert_eq!(ttl(net, "ns1", "192.168.1.1"), 64);
    assert_eq!(ttl(net, "ns1", "192.168.1.3"), 64);
    assert_no_route(net, "ns1", "10.0.2.15");
}

#[netns_test(topology = "../fixtures/s5.toml")]
fn s5_default_routes_via_the_bridge_reach_the_uplink(net: &Net) {
    assert_eq!(
        ttl(net, "ns1", "10.0.2.15"),
        64,
        "the host answers for its own address"
    );
    assert_eq!(ttl(net, "ns2", "10.0.2.15"), 64);
}

#[netns_test(topology = "../fixtures/s6.toml")]
fn s6_containers_on_two_hosts_reach_each_other_in_three_hops(net: &Net) {
    let hops = net.node("a-ns1").trace("192.168.2.2").unwrap();
    let path: Vec<Option<IpAddr>> = hops.iter().map(|h| h.addr).collect();
    let want: Vec<Option<IpAddr>> = ["192.168.1.1", "10.0.2.16", "192.168.2.2"]
        .iter()
        .map(|a| Some(a.parse().unwrap()))
        .collect();
    assert_eq!(path, want);
    assert_eq!(
        ttl(net, "b-ns2", "192.168.1.3"),
        62,
        "two routers on the way"
    );
}
