//! NAT and filtering (S7, S8): masquerading behind a router's public address, port
//! forwarding, and filter rules that drop or reject; VXLAN joining two machines'
//! bridges into one segment.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use netns_test::{Net, netns_test};

/// Waits until STP lets the private bridges' ports forward (listening and learning
/// take twice the forward delay).
fn stp_settled(net: &Net) {
    for m in ["machine-a", "machine-b"] {
        net.node(m)
            .wait_bridge_forwarding("br-pr", Duration::from_secs(30))
            .unwrap();
    }
}

fn connect(net: &Net, from: &str, to: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let to: SocketAddr = to.parse().unwrap();
    net.node(from)
        .run(move || TcpStream::connect_timeout(&to, timeout))
}

#[netns_test(topology = "../fixtures/s7.toml")]
fn s7_private_bridges_run_stp_with_the_forward_delay(net: &Net) {
    for m in ["machine-a", "machine-b"] {
        let read = |what: &str| {
            let path = format!("/sys/class/net/br-pr/bridge/{what}");
            let out = net.node(m).command("cat").arg(&path).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        assert_eq!(read("stp_state"), "1", "{m}: STP is on (brctl stp on)");
        assert_eq!(read("forward_delay"), "200", "{m}: 2 s in hundredths");
    }
    // The ports listen, then learn, before they forward: at least 2 x 2 s after
    // they came up, which the build waited for.
    let started = Instant::now();
    for m in ["machine-a", "machine-b"] {
        net.node(m)
            .wait_bridge_forwarding("br-pr", Duration::from_secs(30))
            .unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(net.node("vm-a").ping("192.168.10.12").unwrap().ttl, 64);
    // br-pu has no STP: its ports forwarded from the start.
    net.node("machine-a")
        .wait_bridge_forwarding("br-pu", Duration::ZERO)
        .unwrap();
}

#[netns_test(topology = "../fixtures/s7.toml")]
fn s7_vms_on_two_machines_share_a_segment_through_vxlan(net: &Net) {
    stp_settled(net);
    // TTL 64: the same layer 2 segment, no router between the machines' VMs.
    assert_eq!(net.node("vm-a").ping("192.168.10.12").unwrap().ttl, 64);
    assert_eq!(net.node("vm-b").ping("192.168.10.11").unwrap().ttl, 64);
    // The VXLAN interfaces are bridge ports of br-pr on both machines.
    for m in ["machine-a", "machine-b"] {
        let vx = net.node(m).interface("vxlan1070").unwrap();
        assert!(vx.up, "{m}: vxlan1070 is down");
    }
    // A frame from vm-b reaches vm-a with vm-b's own MAC: vm-a learnt it through ARP
    // across the tunnel.
    let mac_b = net.node("vm-b").interface("eth0").unwrap().mac.unwrap();
    let neigh = net
        .node("vm-a")
        .command("cat")
        .arg("/proc/net/arp")
        .output()
        .unwrap();
    let arp = String::from_utf8_lossy(&neigh.stdout);
    assert!(
        arp.lines()
            .any(|l| l.starts_with("192.168.10.12 ") && l.contains(&mac_b.to_string())),
        "vm-a's ARP table lacks vm-b's MAC {mac_b}:\n{arp}"
    );
}

#[netns_test(topology = "../fixtures/s7.toml")]
fn s7_the_internet_sees_only_the_routers_public_address(net: &Net) {
    stp_settled(net);
    let listener = net
        .node("internet")
        .run(|| TcpListener::bind("203.0.113.1:8080"))
        .unwrap();
    let udp = net
        .node("internet")
        .run(|| UdpSocket::bind("203.0.113.1:5353"))
        .unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (vm, private) in [("vm-a", "192.168.10.11"), ("vm-b", "192.168.10.12")] {
        let mut s = connect(net, vm, "203.0.113.1:8080", Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{vm}: {e}"));
        // The VM itself uses its private address ...
        assert_eq!(s.local_addr().unwrap().ip().to_string(), private);
        s.write_all(vm.as_bytes()).unwrap();
        drop(s);
        // ... but the internet sees the router's public one.
        let (mut seen, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "203.0.113.123", "{vm} leaked {peer}");
        let mut got = String::new();
        seen.read_to_string(&mut got).unwrap();
        assert_eq!(got, vm);

        let sock = net.node(vm).run(|| UdpSocket::bind("0.0.0.0:0")).unwrap();
        sock.send_to(b"hello", "203.0.113.1:5353").unwrap();
        let mut buf = [0u8; 16];
        let (_, from) = udp.recv_from(&mut buf).unwrap();
        assert_eq!(from.ip().to_string(), "203.0.113.123", "{vm} leaked {from}");
    }
}

#[netns_test(topology = "../fixtures/s8-filter.toml")]
fn a_drop_rule_makes_connect_time_out_and_a_reject_rule_refuses(net: &Net) {
    let listeners: Vec<TcpListener> = net.node("server").run(|| {
        [81, 82, 83]
            .iter()
            .map(|p| TcpListener::bind(("10.0.0.2", *p)).unwrap())
            .collect()
    });
    let started = Instant::now();
    let dropped = connect(net, "client", "10.0.0.2:81", Duration::from_millis(700))
        .expect_err("DROP lets nothing through");
    assert_eq!(dropped.kind(), ErrorKind::TimedOut, "{dropped}");
    assert!(started.elapsed() >= Duration::from_millis(700));

    let refused = connect(net, "client", "10.0.0.2:82", Duration::from_secs(5))
        .expect_err("REJECT answers with a reset");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");

    connect(net, "client", "10.0.0.2:83", Duration::from_secs(5))
        .expect("a port no rule names accepts");
    drop(listeners);

    // ICMP from the client is dropped: its pings go unanswered.
    let err = net.node("client").ping("10.0.0.2").unwrap_err();
    assert!(matches!(err, netns_test::Error::Timeout { .. }), "{err}");
}

#[netns_test(topology = "../fixtures/s8-dnat.toml")]
fn dnat_forwards_a_port_to_the_backend(net: &Net) {
    let listener = net
        .node("backend")
        .run(|| TcpListener::bind("192.168.10.5:80"))
        .unwrap();
    let s = connect(net, "client", "203.0.113.1:8080", Duration::from_secs(5)).unwrap();
    // The client believes it talks to the router ...
    assert_eq!(s.peer_addr().unwrap().to_string(), "203.0.113.1:8080");
    // ... the backend sees the client itself.
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), "203.0.113.7".parse::<IpAddr>().unwrap());
    let err = connect(net, "client", "203.0.113.1:8081", Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[netns_test(topology = r#"
[nodes.a]
nat = [{ masquerade = "eth0" }]
[[links]]
endpoints = [{ iface = "a:eth0", addresses = "10.0.0.1/24" }, "host:eth0"]
"#)]
fn rules_are_loaded_in_their_node_only(net: &Net) {
    let out = net
        .node("a")
        .command("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("table inet netns_test"), "{text}");
    assert!(text.contains("oifname \"eth0\" masquerade"), "{text}");
    let host = net
        .host()
        .command("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&host.stdout).trim().is_empty());
}

#[netns_test(topology = r#"
[nodes.client]
routes = ["default via 10.0.0.1"]

[nodes.router]
forwarding = true
nat = [{ snat = { out = "wan", to = "203.0.113.9" } }]

[nodes.server]

[[links]]
endpoints = [
  { iface = "client:eth0", addresses = "10.0.0.2/24" },
  { iface = "router:lan", addresses = "10.0.0.1/24" },
]

[[links]]
endpoints = [
  { iface = "router:wan", addresses = ["203.0.113.1/24", "203.0.113.9/24"] },
  { iface = "server:eth0", addresses = "203.0.113.7/24" },
]
"#)]
fn snat_rewrites_the_source_to_the_given_address(net: &Net) {
    let listener = net
        .node("server")
        .run(|| TcpListener::bind("203.0.113.7:9000"))
        .unwrap();
    connect(net, "client", "203.0.113.7:9000", Duration::from_secs(5)).unwrap();
    let (_, peer) = listener.accept().unwrap();
    // Not the router's first address, nor the client's: the one SNAT names.
    assert_eq!(peer.ip().to_string(), "203.0.113.9");
}
