//! Device kinds some kernels lack (ipvlan, vlan, gre, ipip, sit): where the kernel has
//! them, their defining behaviour; where it does not, the test fails before the body
//! runs with one message naming every missing kind and its kernel option. Each victim
//! is an `#[ignore]`d test of this binary, run filtered, and the outcome is
//! cross-checked against the kernel's build configuration when it is readable. The
//! last test makes a VRF with `ip` at run time (topologies have none) and checks the
//! same way what `ip` says where the kernel lacks it.

use std::process::Command;

mod victims {
    use netns_test::{Net, netns_test};

    #[netns_test(topology = "../fixtures/kernel/s8-ipvlan.toml")]
    #[ignore = "run by kernel_devices::ipvlan_children_share_the_parents_mac"]
    fn ipvlan(net: &Net) {
        for (node, parent) in [("a", "lan0"), ("b", "lan0"), ("c", "lan1"), ("d", "lan1")] {
            let child = net.node(node).interface("ipv0").unwrap();
            let parent = net.host().interface(parent).unwrap();
            assert_eq!(
                child.mac, parent.mac,
                "{node}: an ipvlan child has its parent's MAC"
            );
        }
        // L2 mode: children of one parent talk (ARP included).
        assert_eq!(net.node("a").ping("10.0.0.2").unwrap().ttl, 64);
        println!("ipvlan children share the parent's MAC");
    }

    #[netns_test(topology = "../fixtures/kernel/s8-vlan.toml")]
    #[ignore = "run by kernel_devices::vlans_separate_traffic_by_id"]
    fn vlan(net: &Net) {
        assert_eq!(net.node("a").ping("10.0.10.2").unwrap().ttl, 64);
        let err = net.node("a").ping("10.0.20.2").unwrap_err();
        assert!(matches!(err, netns_test::Error::Timeout { .. }), "{err}");
        println!("VLAN 10 carries traffic, mismatched ids do not");
    }

    #[netns_test(topology = "../fixtures/kernel/s8-tunnels.toml")]
    #[ignore = "run by kernel_devices::tunnels_carry_traffic"]
    fn tunnels(net: &Net) {
        for inner in ["192.168.100.2", "192.168.101.2", "fd00:102::2"] {
            let r = net.node("a").ping(inner).unwrap();
            assert_eq!(r.ttl, 64, "{inner}");
        }
        println!("gre, ipip and sit tunnels carry traffic");
    }
}

/// What the running kernel's build configuration says about `option`, if readable
/// (`/proc/config.gz`, or `/boot/config-RELEASE` as distributions install it).
pub(crate) fn kernel_config(option: &str) -> Option<bool> {
    let proc = Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let text = proc.or_else(|| {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok()
    })?;
    Some(
        text.lines()
            .any(|l| l == format!("{option}=y") || l == format!("{option}=m")),
    )
}

/// Runs one victim and returns whether it passed and its output.
pub(crate) fn run_victim(name: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture"])
        .output()
        .unwrap();
    let text = crate::support::output_text(&out);
    (out.status.success(), text)
}

/// Checks a victim needing `kinds` (kind, config option): each missing kind is named
/// with its option and nothing else is, or, with every kind present, the body ran to
/// `done`.
pub(crate) fn check(victim: &str, kinds: &[(&str, &str, &str)], done: &str) {
    let (ok, text) = run_victim(victim);
    let lacking = text.contains("lacks what this topology needs");
    let mut any_missing = false;
    for (what, kind, option) in kinds {
        let named = text.contains(&format!("the `{kind}` {what}")) && text.contains(option);
        if let Some(has) = kernel_config(option) {
            assert_eq!(
                named, !has,
                "kernel config and harness disagree on {kind}:\n{text}"
            );
        }
        any_missing |= named;
    }
    assert_eq!(lacking, any_missing, "{text}");
    if lacking {
        assert!(!ok, "{text}");
        assert!(!text.contains(done), "the body must not run: {text}");
        assert!(
            !text.contains("CONFIG_VETH"),
            "only missing features are named: {text}"
        );
    } else {
        assert!(ok, "{text}");
        assert!(text.contains(done), "{text}");
    }
}

#[test]
fn ipvlan_children_share_the_parents_mac() {
    check(
        "kernel_devices::victims::ipvlan",
        &[("link kind", "ipvlan", "CONFIG_IPVLAN")],
        "ipvlan children share the parent's MAC",
    );
}

#[test]
fn vlans_separate_traffic_by_id() {
    check(
        "kernel_devices::victims::vlan",
        &[("link kind", "vlan", "CONFIG_VLAN_8021Q")],
        "VLAN 10 carries traffic, mismatched ids do not",
    );
}

#[test]
fn tunnels_carry_traffic() {
    check(
        "kernel_devices::victims::tunnels",
        &[
            ("link kind", "gre", "CONFIG_NET_IPGRE"),
            ("link kind", "ipip", "CONFIG_NET_IPIP"),
            ("link kind", "sit", "CONFIG_IPV6_SIT"),
        ],
        "gre, ipip and sit tunnels carry traffic",
    );
}

/// An IPv6 address on a port of a VRF gets its local route in the VRF's table, not in
/// `local`: `Node::add_address` waits for it there too, and the address answers at
/// once. The VRF is made with `ip` (topologies have no VRFs); where the kernel has
/// none, `ip` says so, and the kernel's configuration, when readable, agrees.
#[netns_test::netns_test(topology = r#"
[nodes.ns1]
[nodes.ns2]
[[links]]
endpoints = [{ iface = "ns1:eth0", addresses = "fd00::1/64" }, { iface = "ns2:eth0", addresses = "fd00::2/64" }]
"#)]
fn an_ipv6_address_added_on_a_vrf_port_answers_at_once(net: &netns_test::Net) {
    let ns2 = net.node("ns2");
    let ip = |args: &str| {
        let out = ns2.command("ip").args(args.split(' ')).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (made, err) = ip("link add vrf1 type vrf table 10");
    if !made {
        assert!(err.contains("Unknown device type"), "{err}");
        assert_ne!(kernel_config("CONFIG_NET_VRF"), Some(true), "{err}");
        println!("no VRF in this kernel: {}", err.trim());
        return;
    }
    for step in ["link set vrf1 up", "link set eth0 master vrf1"] {
        let (ok, err) = ip(step);
        assert!(ok, "ip {step}: {err}");
    }
    // Joining the VRF cycles eth0 down and up, which drops its IPv6 addresses and
    // flaps ns1's carrier: restoring the link puts fd00::2 back and waits for both ends.
    net.restore_link("ns2:eth0").unwrap();
    ns2.add_address("eth0", "fd00::7/64".parse().unwrap())
        .unwrap();
    let quick = netns_test::PingOptions::default().timeout(std::time::Duration::from_millis(300));
    let reply = net.node("ns1").ping_with("fd00::7", quick).unwrap();
    assert_eq!(reply.from.to_string(), "fd00::7");
}
