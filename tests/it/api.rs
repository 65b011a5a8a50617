//! The test author's surface: bodies of every shape, code running in nodes through
//! closures, futures and commands, and what a failing body reports.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use netns_test::{Net, netns_test};

use crate::support::tentative_v6;

#[netns_test(topology = "../fixtures/s1.toml")]
fn run_returns_the_closures_value_and_sockets_keep_their_node(net: &Net) {
    let listener = net
        .node("ns2")
        .run(|| TcpListener::bind("192.168.1.2:7000"))
        .unwrap();
    // Bound inside ns2, the listener keeps working on this thread (the host node).
    let client = net.node("ns1").run(|| {
        let mut s = TcpStream::connect("192.168.1.2:7000").unwrap();
        s.write_all(b"hello").unwrap();
        s
    });
    let (mut conn, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip().to_string(), "192.168.1.1");
    let mut buf = [0u8; 5];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    drop(client);
}

/// A ping from a node makes its socket there and leaves the calling thread where it
/// was: in the host node, on the host's own addresses.
#[netns_test(topology = "../fixtures/s1.toml")]
fn pinging_from_a_node_leaves_the_caller_in_its_node(net: &Net) {
    let here = || std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let before = here();
    let reply = net.node("ns1").ping("192.168.1.2").unwrap();
    assert_eq!(reply.from.to_string(), "192.168.1.2");
    assert!(net.node("ns1").ping("10.9.9.9").is_err());
    assert_eq!(here(), before);
    // Still the host node: ns1's subnet is not reachable from here.
    assert!(TcpStream::connect("192.168.1.2:9").is_err());
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn the_host_node_cannot_reach_a_namespace_without_a_link(net: &Net) {
    // In S1 the host has only lo: the test's root namespace is not the machine's.
    let names = crate::common::own_interfaces(net.host());
    assert_eq!(names, ["lo"]);
}

#[netns_test(topology = "../fixtures/s1.toml")]
async fn async_bodies_spawn_futures_in_nodes(net: &Net) {
    let server = net.node("ns2").spawn(async {
        let l = tokio::net::TcpListener::bind("0.0.0.0:7001").await.unwrap();
        let (mut s, peer) = l.accept().await.unwrap();
        let mut buf = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut s, &mut buf)
            .await
            .unwrap();
        (peer.ip().to_string(), buf)
    });
    let client = net.node("ns1").spawn(async {
        loop {
            match tokio::net::TcpStream::connect("192.168.1.2:7001").await {
                Ok(mut s) => {
                    tokio::io::AsyncWriteExt::write_all(&mut s, b"over tokio")
                        .await
                        .unwrap();
                    break;
                }
                // The server task may not be listening yet.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    });
    client.await.unwrap();
    let (peer, text) = server.await.unwrap();
    assert_eq!(peer, "192.168.1.1");
    assert_eq!(text, "over tokio");
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn commands_start_inside_the_node(net: &Net) {
    let out = net
        .node("ns1")
        .command("cat")
        .arg("/proc/net/dev")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("veth-ns1"), "{text}");
    assert!(!text.contains("veth-ns2"), "{text}");
    let out = net
        .node("ns2")
        .command("ls")
        .arg("/sys/class/net")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("veth-ns2") && !text.contains("veth-ns1"),
        "{text}"
    );
}

#[netns_test(topology = "../fixtures/s1.toml")]
async fn tokio_commands_start_inside_the_node(net: &Net) {
    let out = net
        .node("ns2")
        .tokio_command("cat")
        .arg("/proc/net/dev")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("veth-ns2"));
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn result_bodies_pass_with_ok(net: &Net) -> Result<(), netns_test::Error> {
    net.node("ns1").ping("192.168.1.2")?;
    Ok(())
}

#[netns_test(topology = "../fixtures/s1.toml")]
#[should_panic(expected = "Error: ns1 gave up")]
fn result_bodies_fail_with_err(_net: &Net) -> Result<(), std::io::Error> {
    Err(std::io::Error::other("ns1 gave up"))
}

#[netns_test(topology = "../fixtures/s1.toml")]
#[should_panic(expected = "the body's own message")]
fn should_panic_matches_the_bodys_panic(_net: &Net) {
    panic!("the body's own message");
}

#[netns_test(topology = "../fixtures/s1.toml")]
#[ignore = "proves #[ignore] is kept: this would fail if it ran"]
fn ignored_tests_stay_ignored(_net: &Net) {
    if std::env::var_os("NETNS_TEST_VICTIM_TOKEN").is_none() {
        panic!("an #[ignore]d test ran");
    }
}

#[netns_test(topology = r#"
[nodes.a]
[nodes.b]
[[links]]
endpoints = [
  { iface = "a:eth0", addresses = ["10.0.0.1/24", "fd00::1/64"] },
  { iface = "b:eth0", addresses = ["10.0.0.2/24", "fd00::2/64"] },
]
"#)]
fn inline_topologies_and_ipv6(net: &Net) {
    let reply = net.node("a").ping("fd00::2").unwrap();
    assert_eq!(reply.ttl, 64);
    assert_eq!(reply.from.to_string(), "fd00::2");
    let eth0 = net.node("b").interface("eth0").unwrap();
    assert!(eth0.up && eth0.lower_up);
    let addrs = net.node("b").addresses().unwrap();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
}

/// A route through `lo` is built (its index is 1 in every namespace).
#[netns_test(topology = r#"
[nodes.ns1]
routes = ["10.9.0.0/16 dev lo"]
"#)]
fn a_route_through_lo_is_built(net: &Net) {
    let out = net
        .node("ns1")
        .command("ip")
        .args(["-4", "route", "show", "dev", "lo"])
        .output()
        .unwrap();
    let routes = String::from_utf8_lossy(&out.stdout);
    assert!(routes.contains("10.9.0.0/16"), "{routes}");
}

/// Ping options at their limits: the largest payload one IP packet carries goes out
/// (in fragments over the 1500-byte link) and is answered, one byte more is refused
/// with the limit and the option to change, and a timeout of `Duration::MAX` is a
/// wait with no deadline, not a panic.
#[netns_test(topology = r#"
[nodes.a]
[nodes.b]
[[links]]
endpoints = [
  { iface = "a:eth0", addresses = ["10.0.0.1/24", "fd00::1/64"] },
  { iface = "b:eth0", addresses = ["10.0.0.2/24", "fd00::2/64"] },
]
"#)]
fn ping_options_at_their_limits(net: &Net) {
    use netns_test::PingOptions;
    let a = net.node("a");
    for (dest, max) in [("10.0.0.2", 65_507), ("fd00::2", 65_527)] {
        let reply = a
            .ping_with(dest, PingOptions::default().payload(max))
            .unwrap();
        assert_eq!(reply.from.to_string(), dest);
        let err = a
            .ping_with(dest, PingOptions::default().payload(max + 1))
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::InvalidInput));
        let text = err.to_string();
        assert!(text.starts_with("in node `a`: ping "), "{text}");
        assert!(text.contains(&format!("at most {max}")), "{text}");
        assert!(text.contains("PingOptions::payload"), "{text}");
        let err = a
            .ping_with(dest, PingOptions::default().payload(usize::MAX))
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::InvalidInput));
    }
    let forever = PingOptions::default().timeout(std::time::Duration::MAX);
    assert_eq!(a.ping_with("10.0.0.2", forever).unwrap().ttl, 64);
}

/// ns2 turns duplicate address detection back on, so its addresses stay tentative for
/// about a second after its link comes up (unanswered neighbour solicitations
/// meanwhile): the build waits until they are usable, as it waits for the kernel's
/// addrconf work where detection is off.
#[netns_test(topology = "../fixtures/s1-ipv6-dad.toml")]
fn ipv6_addresses_are_usable_when_the_body_starts(net: &Net) {
    for node in ["ns1", "ns2"] {
        let tentative = tentative_v6(net, node);
        assert!(
            tentative.is_empty(),
            "{node}: still tentative: {tentative:?}"
        );
    }
    let quick = netns_test::PingOptions::default().timeout(std::time::Duration::from_millis(300));
    let reply = net.node("ns1").ping_with("fd00::2", quick).unwrap();
    assert_eq!(reply.from.to_string(), "fd00::2");
}

/// The same for a bridge's address: detection is back on in `br` (where no interface
/// gets a link-local address, so only the bridge's own address is detected), and the
/// bridge's address is usable when the body starts.
#[netns_test(topology = r#"
[nodes.br]
sysctl = { "net.ipv6.conf.all.accept_dad" = 1, "net.ipv6.conf.default.accept_dad" = 1, "net.ipv6.conf.default.addr_gen_mode" = 1 }
[nodes.a]
[[bridges]]
name = "br:br0"
ports = ["pa"]
addresses = "fd01::1/64"
[[links]]
endpoints = [{ iface = "a:eth0", addresses = "fd01::2/64" }, "br:pa"]
"#)]
fn a_bridges_ipv6_address_is_usable_when_the_body_starts(net: &Net) {
    let tentative = tentative_v6(net, "br");
    assert!(tentative.is_empty(), "still tentative: {tentative:?}");
    let quick = netns_test::PingOptions::default().timeout(std::time::Duration::from_millis(300));
    let reply = net.node("a").ping_with("fd01::1", quick).unwrap();
    assert_eq!(reply.from.to_string(), "fd01::1");
}

/// An IPv6 address added at run time answers the first packet sent to it right after
/// `add_address` returns: no neighbour solicitation lost, no packet dropped for want
/// of the address's local route. Twenty addresses, each pinged once at once, so that
/// a call returning before the kernel's addrconf work has run for its address fails
/// here (before the fix, two runs in three).
#[netns_test(topology = r#"
[nodes.ns1]
[nodes.ns2]
[[links]]
endpoints = [{ iface = "ns1:eth0", addresses = "fd00::1/64" }, { iface = "ns2:eth0", addresses = "fd00::2/64" }]
"#)]
fn an_ipv6_address_added_at_run_time_answers_at_once(net: &Net) {
    let quick = netns_test::PingOptions::default().timeout(std::time::Duration::from_millis(300));
    for n in 0x10..0x24 {
        let addr = format!("fd00::{n:x}");
        net.node("ns2")
            .add_address("eth0", format!("{addr}/64").parse().unwrap())
            .unwrap();
        let reply = net.node("ns1").ping_with(addr.as_str(), quick);
        assert_eq!(reply.unwrap().from.to_string(), addr);
    }
    // On an interface that is down the call does not wait (and time out) for an up
    // that would make the address usable: the kernel puts its local route in at once.
    // The address answers once the link is restored, which waits for it too.
    net.cut_link("ns2:eth0").unwrap();
    net.node("ns2")
        .add_address("eth0", "fd00::30/64".parse().unwrap())
        .unwrap();
    net.restore_link("ns2:eth0").unwrap();
    let reply = net.node("ns1").ping_with("fd00::30", quick).unwrap();
    assert_eq!(reply.from.to_string(), "fd00::30");
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn unknown_nodes_are_a_clear_error(net: &Net) {
    let err = net.try_node("ns9").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no node named `ns9` in this topology (nodes: host, ns1, ns2)"
    );
}

#[test]
fn building_outside_an_isolated_process_is_refused() {
    // A plain #[test] runs in the runner's process, in the machine's own namespaces:
    // nothing may be built there, not even as root.
    let topology =
        netns_test::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/s1.toml")).unwrap();
    let err = Net::build(topology).unwrap_err();
    assert!(matches!(err, netns_test::Error::NotIsolated), "{err}");
    assert!(
        err.to_string().contains("call netns_test::isolate() first"),
        "{err}"
    );
}

/// A topology changed in code is checked before anything is built: here without its
/// `host`, which would have put every node's interfaces in the wrong namespace.
#[netns_test(topology = "../fixtures/s1.toml")]
fn a_topology_changed_in_code_is_checked_before_it_is_built(net: &Net) {
    let mut changed = net.topology().clone();
    changed.nodes.retain(|n| n.name != "host");
    let before = crate::common::own_interfaces(net.host());
    let err = Net::build(changed).unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::InvalidInput));
    let text = err.to_string();
    assert!(
        text.starts_with(
            "the topology `../fixtures/s1.toml` cannot be built: the first node must be `host`"
        ),
        "{text}"
    );
    assert_eq!(
        crate::common::own_interfaces(net.host()),
        before,
        "nothing was made"
    );
}

#[test]
fn loading_a_missing_file_names_it() {
    let err = netns_test::load("no/such/topology.toml").unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
    assert!(err.to_string().contains("no/such/topology.toml"), "{err}");
}
