//! The other virtual devices (S8) this kernel and every CI kernel has: macvlan modes,
//! tun and tap devices whose far end is the test body, VXLAN. Kinds some kernels lack
//! are in the `kernel_devices` module.

use std::io::{Read, Write};
use std::net::UdpSocket;

use netns_test::{Net, netns_test};

#[netns_test(topology = "../fixtures/s8-macvlan.toml")]
fn macvlans_in_bridge_mode_talk_and_in_private_mode_do_not(net: &Net) {
    assert_eq!(net.node("a").ping("10.0.0.2").unwrap().ttl, 64);
    let err = net.node("c").ping("10.0.1.2").unwrap_err();
    assert!(matches!(err, netns_test::Error::Timeout { .. }), "{err}");
    // Each macvlan has a MAC of its own; the parent stays in the host.
    let a = net.node("a").interface("mv0").unwrap();
    let b = net.node("b").interface("mv0").unwrap();
    let parent = net.host().interface("lan0").unwrap();
    assert_ne!(a.mac, b.mac);
    assert_ne!(a.mac, parent.mac);
}

#[netns_test(topology = "../fixtures/s8-macvlan.toml")]
fn a_passthru_macvlan_takes_its_parents_mac(net: &Net) {
    let pt = net.node("e").interface("pt0").unwrap();
    let parent = net.host().interface("lan2").unwrap();
    assert_eq!(pt.mac, parent.mac);
}

#[netns_test(topology = "../fixtures/s8-vepa.toml")]
fn vepa_macvlans_talk_only_through_a_hairpin_switch_port(net: &Net) {
    use netns_test::PingOptions;
    use std::time::Duration;
    let quick = PingOptions::default().timeout(Duration::from_millis(500));
    // Frames from a to b leave through the parent; the switch will not send them back
    // out of the port they came in on.
    let err = net.node("a").ping_with("10.0.0.2", quick).unwrap_err();
    assert!(matches!(err, netns_test::Error::Timeout { .. }), "{err}");
    net.node("switch").set_hairpin("p0", true).unwrap();
    assert_eq!(net.node("a").ping("10.0.0.2").unwrap().ttl, 64);
    assert_eq!(net.node("b").ping("10.0.0.1").unwrap().ttl, 64);
    // And a clear error for a port that is not there.
    let err = net.node("switch").set_hairpin("p9", true).unwrap_err();
    assert!(err.to_string().contains("p9"), "{err}");
}

/// Answers ARP requests and ICMP echo requests for `me` on a tap descriptor until it
/// has answered `echoes` pings.
fn answer_pings(mut tap: std::fs::File, me: [u8; 4], mac: [u8; 6], echoes: usize) {
    let mut answered = 0;
    let mut buf = [0u8; 2048];
    while answered < echoes {
        let n = tap.read(&mut buf).unwrap();
        let f = &buf[..n];
        if n >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] && f[38..42] == me {
            // ARP request for us: reply with our MAC.
            let mut r = f[..42].to_vec();
            r[0..6].copy_from_slice(&f[6..12]);
            r[6..12].copy_from_slice(&mac);
            r[20..22].copy_from_slice(&[0, 2]);
            r[22..28].copy_from_slice(&mac);
            r[28..32].copy_from_slice(&me);
            r[32..42].copy_from_slice(&f[22..32]);
            tap.write_all(&r).unwrap();
        } else if n >= 42 && f[12..14] == [0x08, 0x00] && f[23] == 1 && f[30..34] == me {
            let ihl = usize::from(f[14] & 0x0f) * 4;
            let icmp = 14 + ihl;
            if f[icmp] != 8 {
                continue;
            }
            // Echo request: swap addresses, type 0, adjust the checksum by 0x0800.
            let mut r = f.to_vec();
            r[0..6].copy_from_slice(&f[6..12]);
            r[6..12].copy_from_slice(&mac);
            r[26..30].copy_from_slice(&f[30..34]);
            r[30..34].copy_from_slice(&f[26..30]);
            r[icmp] = 0;
            let sum = u32::from(u16::from_be_bytes([r[icmp + 2], r[icmp + 3]])) + 0x0800;
            let sum = (sum & 0xffff) + (sum >> 16);
            r[icmp + 2..icmp + 4].copy_from_slice(&(sum as u16).to_be_bytes());
            tap.write_all(&r).unwrap();
            answered += 1;
        }
    }
}

/// tun and tap need `/dev/net/tun`, which some containers keep root-only (mode 0600):
/// where this user may open it, the victims run to the end; elsewhere they fail before
/// the body with the fix in the message.
mod tuntap {
    use super::*;

    #[netns_test(topology = "../fixtures/kernel/s8-tap.toml")]
    #[ignore = "run by devices::the_body_answers_pings_on_the_far_side_of_a_tap"]
    fn tap(net: &Net) {
        let tap = net.node("a").tap("tap0").unwrap();
        let responder =
            std::thread::spawn(move || answer_pings(tap, [10, 0, 0, 2], [2, 0, 0, 0, 0, 2], 2));
        for _ in 0..2 {
            let reply = net.node("a").ping("10.0.0.2").unwrap();
            assert_eq!(reply.ttl, 64);
        }
        responder.join().unwrap();
        // The node learnt the body's MAC through ARP.
        let arp = net
            .node("a")
            .command("cat")
            .arg("/proc/net/arp")
            .output()
            .unwrap();
        let arp = String::from_utf8_lossy(&arp.stdout).into_owned();
        assert!(arp.contains("02:00:00:00:00:02"), "{arp}");
        println!("the body answered the pings");
    }

    #[netns_test(topology = "../fixtures/kernel/s8-tap.toml")]
    #[ignore = "run by devices::a_tun_descriptor_carries_the_nodes_ip_packets"]
    fn tun(net: &Net) {
        let mut tun = net.node("a").tap("tun0").unwrap();
        let sock = net
            .node("a")
            .run(|| UdpSocket::bind("10.0.1.1:4000"))
            .unwrap();
        sock.send_to(b"through the tun", "10.0.1.2:5000").unwrap();
        let mut buf = [0u8; 2048];
        let packet = loop {
            let n = tun.read(&mut buf).unwrap();
            // Skip the IPv6 router solicitations and the like: the first UDP over IPv4.
            if n > 28 && buf[0] >> 4 == 4 && buf[9] == 17 {
                break buf[..n].to_vec();
            }
        };
        assert_eq!(&packet[12..16], &[10, 0, 1, 1], "source");
        assert_eq!(&packet[16..20], &[10, 0, 1, 2], "destination");
        assert_eq!(&packet[28..], b"through the tun");
        // Unknown names say which devices the node has.
        let err = net.node("a").tap("tap9").unwrap_err().to_string();
        assert!(err.contains("tap0") && err.contains("tun0"), "{err}");
        println!("the tun carried the datagram");
    }
}

/// Runs a victim that needs /dev/net/tun: it must pass where this user may open the
/// device, and fail before its body with the fix in the message elsewhere.
pub(crate) fn check_tuntap(victim: &str, done: &str) {
    let usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_ok();
    let (ok, text) = crate::kernel_devices::run_victim(victim);
    if usable {
        assert!(ok && text.contains(done), "{text}");
    } else {
        assert!(!ok, "{text}");
        assert!(!text.contains(done), "the body must not run: {text}");
        assert!(text.contains("sudo chmod 0666 /dev/net/tun"), "{text}");
    }
}

#[test]
fn the_body_answers_pings_on_the_far_side_of_a_tap() {
    check_tuntap("devices::tuntap::tap", "the body answered the pings");
}

#[test]
fn a_tun_descriptor_carries_the_nodes_ip_packets() {
    check_tuntap("devices::tuntap::tun", "the tun carried the datagram");
}

/// A node may be called `all`, the name of the file every node shares: each keeps
/// its own entries.
#[netns_test(topology = r#"
[nodes.host]
hosts = { "gateway.internal" = "10.0.0.1" }
[nodes.all]
hosts = { "private.internal" = "10.0.0.9" }
[[links]]
endpoints = [
  { iface = "host:eth0", addresses = "10.0.0.1/24" },
  { iface = "all:eth0", addresses = "10.0.0.2/24" },
]
"#)]
fn a_node_called_all_keeps_its_own_hosts_file(net: &Net) {
    let shared = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(shared.contains("10.0.0.1\tgateway.internal"), "{shared}");
    assert!(shared.contains("10.0.0.2\tall"), "{shared}");
    assert!(!shared.contains("private.internal"), "{shared}");
    let own = net
        .node("all")
        .run(|| std::fs::read_to_string("/etc/hosts"))
        .unwrap();
    assert!(own.contains("10.0.0.9\tprivate.internal"), "{own}");
    assert!(!own.contains("gateway.internal"), "{own}");
}

#[netns_test(topology = r#"
[nodes.web]
hostname = "web.example"
hosts = { "db.internal" = "10.0.0.2" }

[nodes.db]

[[links]]
endpoints = [
  { iface = "web:eth0", addresses = "10.0.0.1/24" },
  { iface = "db:eth0", addresses = "10.0.0.2/24" },
]
"#)]
fn nodes_have_names_and_host_names(net: &Net) {
    use std::net::ToSocketAddrs;
    let resolve = |name: &str| -> Vec<String> {
        (name, 80)
            .to_socket_addrs()
            .map(|a| a.map(|a| a.ip().to_string()).collect())
            .unwrap_or_default()
    };
    // The body resolves node names anywhere in the test.
    assert_eq!(resolve("db"), ["10.0.0.2"]);
    assert_eq!(resolve("web"), ["10.0.0.1"]);
    // Code run in a node sees the node's own entries and host name ...
    let (db, name) = net.node("web").run(|| {
        (
            resolve("db.internal"),
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        )
    });
    assert_eq!(db, ["10.0.0.2"]);
    assert_eq!(name.trim(), "web.example");
    // ... and so do programs started there; a node without `hostname` is called by
    // its name.
    let cat = |node: &str, file: &str| {
        let out = net.node(node).command("cat").arg(file).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        cat("web", "/proc/sys/kernel/hostname").trim(),
        "web.example"
    );
    assert_eq!(cat("db", "/proc/sys/kernel/hostname").trim(), "db");
    assert!(cat("web", "/etc/hosts").contains("10.0.0.2\tdb.internal"));
    assert!(!cat("db", "/etc/hosts").contains("db.internal"));
    // A TCP connection by name.
    let listener = net
        .node("db")
        .run(|| std::net::TcpListener::bind("10.0.0.2:5432"))
        .unwrap();
    net.node("web")
        .run(|| std::net::TcpStream::connect("db:5432"))
        .unwrap();
    listener.accept().unwrap();
}

#[netns_test(topology = r#"
[nodes.a]
[nodes.b]

[[links]]
endpoints = [
  { iface = "a:eth0", addresses = "10.0.2.15/24" },
  { iface = "b:eth0", addresses = "10.0.2.16/24" },
]

[[devices]]
kind = "vxlan"
name = "a:vxlan1070"
vni = 1070
group = "239.0.4.46"
dev = "eth0"
addresses = "192.168.10.1/24"

[[devices]]
kind = "vxlan"
name = "b:vxlan1070"
vni = 1070
group = "239.0.4.46"
dev = "eth0"
addresses = "192.168.10.2/24"
"#)]
fn vxlan_over_a_multicast_group_carries_a_segment(net: &Net) {
    // The document's form: flooded frames (ARP) go to the group, then unicast.
    assert_eq!(net.node("a").ping("192.168.10.2").unwrap().ttl, 64);
    let vx = net.node("b").interface("vxlan1070").unwrap();
    assert_eq!(
        vx.mtu,
        Some(1450),
        "VXLAN's 50 bytes of headers on a 1500 underlay"
    );
}
