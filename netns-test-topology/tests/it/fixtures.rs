//! Every fixture parses and validates; the seed fixtures say what SEEDS.md says.

use std::net::IpAddr;
use std::path::PathBuf;

use netns_test_topology::{Family, RouteDest, RouteKind, Topology, parse};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every `*.toml` under `fixtures/` and `fixtures/kernel/` (elements some kernels
/// lack), as (origin as a user would write it, text).
pub(crate) fn all_fixtures() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["", "kernel/"] {
        let dir = fixtures_dir().join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((format!("fixtures/{sub}{name}"), text));
            }
        }
    }
    out.sort();
    out
}

fn load(name: &str) -> Topology {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    parse(&text, name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_fixture_parses() {
    let all = all_fixtures();
    assert!(all.len() >= 9, "fixtures missing: {all:?}");
    let mut failures = Vec::new();
    for (origin, text) in &all {
        match parse(text, origin) {
            Ok(t) => {
                assert_eq!(&t.origin, origin);
                // What `parse` makes passes the check a topology built in code gets.
                assert_eq!(t.check(), Ok(()), "{origin}");
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A topology changed in code is checked before anything relies on it.
#[test]
fn a_topology_changed_in_code_is_checked() {
    let t = load("s4.toml");
    type Change<'a> = &'a dyn Fn(&mut Topology);
    let cases: [(Change<'_>, &str); 6] = [
        (
            &|t| t.nodes.retain(|n| n.name != "host"),
            "the first node must be `host`",
        ),
        (&|t| t.nodes.push(t.nodes[1].clone()), "is listed twice"),
        (
            &|t| t.nodes.retain(|n| n.name != "ns1"),
            "which is not in `nodes`",
        ),
        (
            &|t| t.links[1].ends[1].iface = t.links[0].ends[1].iface.clone(),
            "is made twice",
        ),
        (
            &|t| {
                t.links[0].ends[0].config.impairment.loss =
                    Some(netns_test_topology::Ratio(2_000_000))
            },
            "the impairment of `ns1:veth-ns1`: loss 200% is out of range",
        ),
        (
            &|t| {
                t.nodes[1]
                    .routes
                    .push("10.0.0.0/8 dev eth9".parse().unwrap())
            },
            "names `eth9`, which is not an interface of the node",
        ),
    ];
    for (change, problem) in cases {
        let mut bad = t.clone();
        change(&mut bad);
        let e = bad.check().unwrap_err();
        assert!(e.contains(problem), "{problem}: {e}");
    }
}

#[test]
fn every_fixture_starts_with_a_seed_comment() {
    for (origin, text) in all_fixtures() {
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("# Seed S"),
            "{origin} starts with {first:?}"
        );
        assert!(
            text.contains("Proves:"),
            "{origin} does not say what it proves"
        );
    }
}

#[test]
fn fixtures_readme_lists_every_fixture() {
    let readme = std::fs::read_to_string(fixtures_dir().join("README.md")).unwrap();
    for (origin, _) in all_fixtures() {
        let name = origin.trim_start_matches("fixtures/");
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md misses {name}"
        );
    }
}

fn names(t: &Topology) -> Vec<&str> {
    t.nodes.iter().map(|n| n.name.as_str()).collect()
}

fn addrs(t: &Topology, node: &str, iface: &str) -> Vec<String> {
    let i = t.interfaces_of(node);
    let i = i
        .iter()
        .find(|i| i.name == iface)
        .unwrap_or_else(|| panic!("{node}:{iface}"));
    i.config.addresses.iter().map(|a| a.to_string()).collect()
}

#[test]
fn s1_two_namespaces() {
    let t = load("s1.toml");
    assert_eq!(names(&t), ["host", "ns1", "ns2"]);
    assert!(t.nodes.iter().all(|n| n.loopback && !n.forwarding));
    assert_eq!(addrs(&t, "ns1", "veth-ns1"), ["192.168.1.1/24"]);
    assert_eq!(addrs(&t, "ns2", "veth-ns2"), ["192.168.1.2/24"]);
    assert!(t.links[0].ends.iter().all(|e| e.config.up));
}

#[test]
fn s2_host_and_netns1() {
    let t = load("s2.toml");
    assert_eq!(names(&t), ["host", "netns1"]);
    assert_eq!(addrs(&t, "host", "veth0"), ["10.1.1.1/24"]);
    assert_eq!(addrs(&t, "netns1", "veth1"), ["10.1.1.2/24"]);
    assert!(t.nodes.iter().all(|n| n.routes.is_empty()));
}

#[test]
fn s3_bridge_in_host() {
    let t = load("s3.toml");
    assert_eq!(t.bridges.len(), 1);
    let b = &t.bridges[0];
    assert_eq!(
        (b.node.as_str(), b.name.as_str()),
        ("host", "virtual-bridge")
    );
    assert_eq!(b.ports, ["veth-ns1-br", "veth-ns2-br", "veth-ns3-br"]);
    for p in &b.ports {
        assert!(addrs(&t, "host", p).is_empty());
    }
}

#[test]
fn s4_router() {
    let t = load("s4.toml");
    assert!(t.node("ns-router").unwrap().forwarding);
    let r = &t.node("ns1").unwrap().routes[0];
    assert_eq!(r.dest, RouteDest::Prefix("192.168.2.0/24".parse().unwrap()));
    let via: IpAddr = "192.168.1.1".parse().unwrap();
    assert_eq!(
        r.kind,
        RouteKind::Unicast {
            via: Some(via),
            dev: None,
            onlink: false
        }
    );
    let t = load("s4-noroutes.toml");
    assert!(t.nodes.iter().all(|n| n.routes.is_empty()));
    let t = load("s4-host-router.toml");
    assert!(t.node("host").unwrap().forwarding);
    assert_eq!(names(&t), ["host", "ns1", "ns2"]);
}

#[test]
fn s5_bridge_gateway() {
    let t = load("s5.toml");
    assert_eq!(addrs(&t, "host", "br0"), ["192.168.1.1/24"]);
    assert_eq!(addrs(&t, "host", "enp0s3"), ["10.0.2.15/24"]);
    for ns in ["ns1", "ns2"] {
        let r = &t.node(ns).unwrap().routes;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].dest, RouteDest::Default(Family::V4));
    }
    let t = load("s5-nodefault.toml");
    assert!(t.nodes.iter().all(|n| n.routes.is_empty()));
}

#[test]
fn s6_two_hosts() {
    let t = load("s6.toml");
    assert_eq!(
        names(&t),
        [
            "host", "host-a", "host-b", "a-ns1", "a-ns2", "b-ns1", "b-ns2"
        ]
    );
    assert!(t.node("host-a").unwrap().forwarding && t.node("host-b").unwrap().forwarding);
    assert_eq!(addrs(&t, "host-a", "eth0"), ["10.0.2.15/24"]);
    assert_eq!(addrs(&t, "host-b", "eth0"), ["10.0.2.16/24"]);
    assert_eq!(addrs(&t, "host-a", "br0"), ["192.168.1.1/24"]);
    assert_eq!(addrs(&t, "host-b", "br0"), ["192.168.2.1/24"]);
    assert_eq!(addrs(&t, "b-ns1", "eth0"), ["192.168.2.2/24"]);
    assert_eq!(t.bridges[0].ports, ["veth-a-ns1", "veth-a-ns2"]);
}

/// The README's topology example (under "Topology files") is a whole, valid topology:
/// a reader copies it into a file.
#[test]
fn the_readmes_topology_example_is_valid() {
    let readme = std::fs::read_to_string(fixtures_dir().join("../README.md")).unwrap();
    let section = readme
        .split("## Topology files")
        .nth(1)
        .expect("the README has a \"Topology files\" section");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block in it");
    let t = parse(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
    let bridge = t.bridges.first().expect("the example has a bridge");
    assert_eq!(bridge.ports, ["veth-ns3"]);
}
