//! Bad input: a zoo of malformed topologies, each a clear error with a position when
//! loaded at run time (the same parser the macro runs at compile time, where the UI
//! tests check the messages), never a panic.

use std::io::Write;

/// (what is wrong, the topology text, a phrase the message must contain)
const ZOO: &[(&str, &str, &str)] = &[
    ("syntax", "[nodes.a\n", "--> "),
    ("type", "[nodes.a]\nforwarding = \"yes\"\n", "expected"),
    (
        "unknown key",
        "[nodes.a]\nforwardin = true\n",
        "did you mean `forwarding`",
    ),
    (
        "dangling node",
        "[[links]]\nendpoints = [\"a:x\", \"b:y\"]\n",
        "unknown node",
    ),
    (
        "name too long",
        "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [\"a:this-name-is-too-long\", \"b:y\"]\n",
        "15",
    ),
    (
        "invalid MTU",
        "[nodes.a]\n[nodes.b]\n[[links]]\nmtu = 10\nendpoints = [\"a:x\", \"b:y\"]\n",
        "MTU",
    ),
    (
        "malformed CIDR",
        "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [{ iface = \"a:x\", addresses = \"10.0.0.300/24\" }, \"b:y\"]\n",
        "10.0.0.300/24",
    ),
    (
        "impossible route",
        "[nodes.a]\nroutes = [\"10.0.0.0/8 via 192.168.9.1\"]\n",
        "gateway",
    ),
    (
        "duplicate address in a segment",
        "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [{ iface = \"a:x\", addresses = \"10.0.0.1/24\" }, { iface = \"b:y\", addresses = \"10.0.0.1/24\" }]\n",
        "10.0.0.1",
    ),
    (
        "absurd route",
        "[nodes.a]\nroutes = [\"10.0.0.0/99 dev lo\"]\n",
        "10.0.0.0/99",
    ),
    ("not TOML at all", "\u{0}\u{1}\u{2}binary", "-->"),
];

#[test]
fn every_malformed_topology_is_a_clear_error() {
    let scratch = crate::common::Scratch::created("zoo");
    let dir = scratch.path();
    for (i, (what, text, phrase)) in ZOO.iter().enumerate() {
        let path = dir.join(format!("zoo-{i}.toml"));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let err = match netns_test::load(&path) {
            Ok(_) => panic!("{what}: accepted:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(phrase), "{what}: {err}");
        let location = format!("{}:", path.display());
        assert!(
            err.contains(&location),
            "{what}: no file:line:column in {err}"
        );
    }
    // Huge inputs are refused with the limit named, not by running out of memory.
    let mut big = String::new();
    for i in 0..5000 {
        big.push_str(&format!("[nodes.n{i}]\n"));
    }
    let err = netns_test::topology::parse(&big, "big.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("4096"), "{err}");
}
