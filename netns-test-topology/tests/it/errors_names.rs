//! Node references, interface names, endpoints and links.

use crate::{check, errs, help, one, render, spanned};

#[test]
fn unknown_node_renders_like_rustc() {
    let src = "[nodes.ns1]\n[nodes.ns2]\n\n[[links]]\nendpoints = [\"ns1:veth-ns1\", \"ns2:veth-ns2\"]\n[[links]]\nendpoints = [{ iface = \"ns3:veth-ns2\" }, \"ns1:x\"]\n";
    let d = one(src);
    assert_eq!(
        d.to_string(),
        "error: unknown node `ns3` in link endpoint `ns3:veth-ns2`
 --> fixtures/x.toml:7:14
  |
7 | endpoints = [{ iface = \"ns3:veth-ns2\" }, \"ns1:x\"]
  |              ^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: declare it with `[nodes.ns3]`, or use one of the nodes: host, ns1, ns2"
            .replace("fixtures/x.toml", "t.toml")
    );
}

#[test]
fn unknown_node_example_from_the_design() {
    let src = "[nodes.ns1]\n[nodes.ns2]\n\n[[links]]\nendpoints = [\"ns1:veth-ns1\", \"ns2:veth-ns2\"]\n[[links]]\nendpoints = [{ iface = \"ns3:veth-ns2\" }]\n";
    let d = errs(src);
    assert_eq!(d.len(), 2, "{}", render(&d));
    assert_eq!(
        d[0].message,
        "a link must have exactly 2 endpoints, found 1"
    );
    assert_eq!(
        d[1].to_string(),
        "error: unknown node `ns3` in link endpoint `ns3:veth-ns2`
 --> t.toml:7:14
  |
7 | endpoints = [{ iface = \"ns3:veth-ns2\" }]
  |              ^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: declare it with `[nodes.ns3]`, or use one of the nodes: host, ns1, ns2"
    );
}

#[test]
fn unknown_node_suggests_a_close_name() {
    let d = one("[nodes.router]\n[[links]]\nendpoints = [\"ruoter:a\", \"host:b\"]\n");
    check(
        &d,
        3,
        14,
        "unknown node `ruoter` in link endpoint `ruoter:a`",
    );
    assert_eq!(
        help(&d),
        "did you mean `router`? Otherwise declare it with `[nodes.ruoter]`; the nodes are: host, router"
    );
    let d = one("[[bridges]]\nname = \"ns9:br0\"\n");
    check(&d, 2, 8, "unknown node `ns9` in bridge `ns9:br0`");
    let d = one("[[devices]]\nkind = \"dummy\"\nname = \"a.b:d0\"\n");
    assert_eq!(
        help(&d),
        "declare it with `[nodes.\"a.b\"]`, or use one of the nodes: host"
    );
}

#[test]
fn endpoint_must_be_node_colon_iface() {
    let src = "[[links]]\nendpoints = [\"veth0\", \"host:b\"]\n";
    let d = one(src);
    check(
        &d,
        2,
        14,
        "link endpoint `veth0` must be written \"node:iface\"",
    );
    assert_eq!(
        help(&d),
        "write the node, a colon and the interface name, e.g. `host:veth0` (`host` is the test's own namespace)"
    );
    let d = one("[[links]]\nendpoints = [\"a:b:c\", \"host:b\"]\n");
    check(
        &d,
        2,
        14,
        "link endpoint `a:b:c` must be written \"node:iface\"",
    );
    let d = one("[[links]]\nendpoints = [\"host:\", \"host:b\"]\n");
    check(
        &d,
        2,
        14,
        "link endpoint `host:` must be written \"node:iface\"",
    );
    let d = one("[[bridges]]\nname = \"br0\"\n");
    check(&d, 2, 8, "bridge `br0` must be written \"node:iface\"");
}

#[test]
fn a_link_has_two_endpoints() {
    let src = "[[links]]\nendpoints = [\"host:a\", \"host:b\", \"host:c\"]\n";
    let d = one(src);
    check(&d, 2, 13, "a link must have exactly 2 endpoints, found 3");
    assert_eq!(spanned(src, &d), "[\"host:a\", \"host:b\", \"host:c\"]");
    assert!(help(&d).contains("make them ports of a bridge"));
    let d = one("[[links]]\nendpoints = []\n");
    check(&d, 2, 13, "a link must have exactly 2 endpoints, found 0");
    let d = one("[[links]]\nendpoints = [5, \"host:b\"]\n");
    assert_eq!(
        d.message,
        "expected a string like \"ns1:eth0\" or an endpoint table like { iface = \"ns1:eth0\" }, found an integer"
    );
}

#[test]
fn interface_names_follow_kernel_rules() {
    let src = "[[links]]\nendpoints = [\"host:a-very-long-interface\", \"host:b\"]\n";
    let d = one(src);
    check(
        &d,
        2,
        20,
        "interface name `a-very-long-interface` is 21 bytes long; Linux allows at most 15 (IFNAMSIZ - 1)",
    );
    assert_eq!(spanned(src, &d), "a-very-long-interface");
    assert_eq!(help(&d), "shorten it, e.g. to `a-very-long-int`");
    // 15 bytes is fine.
    crate::ok("[[links]]\nendpoints = [\"host:veth-ns1-route\", \"host:b\"]\n");
    let d = one("[[links]]\nendpoints = [\"host:lo\", \"host:b\"]\n");
    check(
        &d,
        2,
        20,
        "interface name `lo` is reserved: every node already has its loopback interface",
    );
    let d = one("[[links]]\nendpoints = [\"host:a/b\", \"host:b\"]\n");
    check(
        &d,
        2,
        20,
        "interface name `a/b` contains `/`, which is not allowed in interface names",
    );
    let d = one("[[links]]\nendpoints = [\"host:a b\", \"host:b\"]\n");
    check(
        &d,
        2,
        20,
        "interface name `a b` contains the character ' ', which is not allowed in interface names",
    );
    let d = one("[[links]]\nendpoints = [\"host:eth%d\", \"host:b\"]\n");
    check(
        &d,
        2,
        20,
        "interface name `eth%d` contains `%`, which is not allowed in interface names",
    );
    let d = one("[[links]]\nendpoints = [\"host:..\", \"host:b\"]\n");
    check(&d, 2, 20, "`..` is not a valid interface name");
    // `"` would end the name in the node's nftables rules.
    let d = one("[[links]]\nendpoints = ['host:w\"n', \"host:b\"]\n");
    check(
        &d,
        2,
        20,
        "interface name `w\\\"n` contains `\"`, which is not allowed in interface names",
    );
    // The kernel reads the byte 0xA0 as a space: `à` is C3 A0; `é` (C3 A9) is fine.
    let src = "[[links]]\nendpoints = [\"host:và\", \"host:b\"]\n";
    let d = one(src);
    assert_eq!(
        d.message,
        "interface name `và` contains `à`, whose UTF-8 bytes hold 0xA0, which Linux reads \
         as a space in interface names"
    );
    assert_eq!(spanned(src, &d), "và");
    crate::ok("[[links]]\nendpoints = [\"host:éé\", \"host:b\"]\n");
}

#[test]
fn node_names_that_are_only_dots() {
    for name in [".", ".."] {
        let src = format!("[nodes.\"{name}\"]\n");
        let d = one(&src);
        check(&d, 1, 8, &format!("`{name}` is not a valid node name"));
        assert!(help(&d).contains("e.g. `ns1`"), "{d}");
    }
    crate::ok("[nodes.\"a.b\"]\n[nodes.\".x\"]\n");
}

#[test]
fn duplicate_interface_in_a_node() {
    let src = "[nodes.ns1]\n[[links]]\nendpoints = [\"ns1:veth0\", \"host:veth0\"]\n\n[[devices]]\nkind = \"dummy\"\nname = \"ns1:veth0\"\n";
    let d = one(src);
    check(
        &d,
        7,
        13,
        "interface `veth0` is defined twice in node `ns1`",
    );
    assert_eq!(
        help(&d),
        "the first definition is on line 3; interface names must be unique within a node"
    );
    // The same name in two nodes is fine (host:veth0 and ns1:veth0 above).
}

#[test]
fn independent_errors_are_all_reported() {
    let src = "[nodes.ns1]\nloopback = 3\n[[links]]\nendpoints = [\"ns1:lo\", \"nsx:b\"]\n[[bridges]]\nname = \"host:br0\"\nstp = true\nforward_delay = 1\n";
    let d = errs(src);
    let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "expected a boolean (`true` or `false`), found an integer",
            "interface name `lo` is reserved: every node already has its loopback interface",
            "unknown node `nsx` in link endpoint `nsx:b`",
            "forward_delay 1 is out of range",
        ],
        "{}",
        render(&d)
    );
    assert_eq!(
        d[3].help.as_deref(),
        Some("with `stp = true` the kernel accepts 2 to 30 seconds")
    );
}
