//! TOML syntax, types, unknown and missing keys, sysctls, size caps, rendering.

use netns_test_topology::parse;

use crate::{check, errs, help, one, spanned};

#[test]
fn toml_syntax_error_has_line_and_column() {
    let src = "[nodes.ns1]\nforwarding = tru\n";
    let d = one(src);
    check(
        &d,
        2,
        14,
        "TOML syntax error: invalid boolean, expected `true`",
    );
    assert_eq!(spanned(src, &d), "tru");
    assert_eq!(
        d.to_string(),
        "error: TOML syntax error: invalid boolean, expected `true`
 --> t.toml:2:14
  |
2 | forwarding = tru
  |              ^^^"
    );
}

#[test]
fn a_document_nested_past_the_parsers_limit_is_explained() {
    let key = vec!["a"; 130].join(".");
    let d = one(&format!("[nodes.ns1]\nsysctl.{key} = 1\n"));
    assert_eq!(
        d.message,
        "TOML syntax error: the document nests too deeply (recursion limit)"
    );
    assert!(help(&d).contains("very many dots"), "{d}");
}

#[test]
fn toml_duplicate_key_names_the_key() {
    let d = one("[nodes.ns1]\n[nodes.ns1]\n");
    check(&d, 2, 8, "TOML syntax error: duplicate key `ns1`");
    assert!(help(&d).contains("merge"));
}

#[test]
fn wrong_type_says_what_was_expected() {
    let src = "[[links]]\nendpoints = [{ iface = 7 }, \"host:b\"]\n";
    let d = one(src);
    check(
        &d,
        2,
        24,
        "expected a string like \"ns1:eth0\", found an integer",
    );
    assert_eq!(spanned(src, &d), "7");
    let d = one("[nodes.ns1]\nforwarding = \"yes\"\n");
    check(
        &d,
        2,
        14,
        "expected a boolean (`true` or `false`), found a string",
    );
    let d = one("nodes = 3\n");
    check(
        &d,
        1,
        9,
        "expected a table of nodes, like `[nodes.ns1]`, found an integer",
    );
    let d = one("[nodes]\nns1 = [1]\n");
    check(
        &d,
        2,
        7,
        "expected a table of node settings, like `[nodes.ns1]`, found an array",
    );
}

#[test]
fn unknown_key_suggests_and_lists() {
    let src = "[nodes.ns1]\nforwardng = true\n";
    let d = one(src);
    check(&d, 2, 1, "unknown key `forwardng` in node `ns1`");
    assert_eq!(
        help(&d),
        "did you mean `forwarding`? accepted keys: forwarding, loopback, sysctl, routes, nat, filter, hostname, hosts"
    );
    let d = one("[[links]]\nendpoints = [\"ns1:a\", \"host:b\"]\nmtuu = 1500\n[nodes.ns1]\n");
    check(&d, 3, 1, "unknown key `mtuu` in a link");
    assert_eq!(
        help(&d),
        "did you mean `mtu`? accepted keys: endpoints, mtu, mode"
    );
    let d = one(
        "[[links]]\nendpoints = [{ iface = \"host:a\", adresses = \"10.0.0.1/24\" }, \"host:b\"]\n",
    );
    check(&d, 2, 34, "unknown key `adresses` in a link endpoint");
    assert!(help(&d).starts_with("did you mean `addresses`? accepted keys: iface, addresses"));
    let d = one("[bridge]\n");
    check(&d, 1, 2, "unknown key `bridge` in the topology");
    assert_eq!(
        help(&d),
        "did you mean `bridges`? accepted keys: nodes, links, bridges, devices, checks"
    );
    let d = one("[nodes.ns1]\nxyz = 1\n");
    assert_eq!(
        help(&d),
        "accepted keys: forwarding, loopback, sysctl, routes, nat, filter, hostname, hosts"
    );
}

#[test]
fn misspelt_section_does_not_cascade() {
    // `[node.ns1]` hides the node; the link must not also report `ns1` as unknown.
    let d = one("[node.ns1]\n[[links]]\nendpoints = [\"ns1:a\", \"host:b\"]\n");
    check(&d, 1, 2, "unknown key `node` in the topology");
}

#[test]
fn missing_required_keys() {
    let src = "[nodes.ns1]\n\n[[links]]\nmtu = 1500\n";
    let d = one(src);
    check(&d, 3, 1, "missing key `endpoints` in a link");
    assert_eq!(spanned(src, &d), "[[links]]");
    assert_eq!(help(&d), "add `endpoints = [\"ns1:veth0\", \"ns2:veth0\"]`");
    let d = one("[[links]]\nendpoints = [{ addresses = \"10.0.0.1/24\" }, \"host:b\"]\n");
    check(&d, 2, 14, "missing key `iface` in a link endpoint");
    let d = one("[[bridges]]\nports = []\n");
    check(&d, 1, 1, "missing key `name` in a bridge");
    assert_eq!(help(&d), "add `name = \"host:br0\"`");
    let d = one("[[devices]]\nname = \"host:d0\"\n");
    check(&d, 1, 1, "missing key `kind` in a device");
    let d = one("[[devices]]\nkind = \"dumy\"\nname = \"host:d0\"\n");
    check(&d, 2, 8, "unknown device kind `dumy`");
    assert!(help(&d).starts_with("did you mean `dummy`? supported kinds: dummy"));
}

#[test]
fn sysctl_rules() {
    let ok = crate::ok(
        "[nodes.ns1]\nsysctl = { \"net.ipv4.conf.all.rp_filter\" = 0, \"net.ipv4.ping_group_range\" = \"0 2147483647\", \"net.ipv6.conf.all.disable_ipv6\" = true }\n[nodes.ns2.sysctl]\nnet.ipv4.ip_forward = false\n",
    );
    let s: Vec<(String, String)> = ok.nodes[1]
        .sysctls
        .iter()
        .map(|s| (s.key.clone(), s.value.clone()))
        .collect();
    assert_eq!(
        s,
        [
            ("net.ipv4.conf.all.rp_filter".into(), "0".into()),
            ("net.ipv4.ping_group_range".into(), "0 2147483647".into()),
            ("net.ipv6.conf.all.disable_ipv6".into(), "1".into()),
        ]
    );
    assert_eq!(ok.nodes[2].sysctls[0].key, "net.ipv4.ip_forward");
    assert_eq!(ok.nodes[2].sysctls[0].value, "0");
    assert_eq!(
        ok.nodes[1].sysctls[0].proc_path(),
        "/proc/sys/net/ipv4/conf/all/rp_filter"
    );

    let src = "[nodes.ns1]\nsysctl = { \"kernel.pid_max\" = 1 }\n";
    let d = one(src);
    check(
        &d,
        2,
        12,
        "sysctl `kernel.pid_max` is not a network namespace setting",
    );
    assert_eq!(spanned(src, &d), "\"kernel.pid_max\"");
    let d = one("[nodes.ns1]\nsysctl = { \"net.ipv4/x\" = 1 }\n");
    check(&d, 2, 12, "invalid sysctl name `net.ipv4/x`");
    let d = one("[nodes.ns1]\nsysctl = { \"net..x\" = 1 }\n");
    check(&d, 2, 12, "invalid sysctl name `net..x`");
    let d = one("[nodes.ns1]\nsysctl = { \"net.X\" = 1 }\n");
    check(&d, 2, 12, "invalid sysctl name `net.X`");
    let d = one("[nodes.ns1]\nsysctl = { \"net.x\" = \"a\\nb\" }\n");
    check(
        &d,
        2,
        22,
        "the value of sysctl `net.x` contains a line break",
    );
    let d = one("[nodes.ns1]\nsysctl = { \"net.x\" = 1.5 }\n");
    check(
        &d,
        2,
        22,
        "expected a string, an integer or a boolean, found a float",
    );
    let d = one("[nodes.ns1]\nsysctl = { \"net.a.b\" = 1, net.a.b = 2 }\n");
    check(&d, 2, 27, "sysctl `net.a.b` is set twice in node `ns1`");
}

#[test]
fn node_names() {
    let d = one("[nodes.\"a b\"]\n");
    check(&d, 1, 8, "node name `a b` contains the character ' '");
    let long = "n".repeat(33);
    let d = one(&format!("[nodes.{long}]\n"));
    assert_eq!(
        d.message,
        format!("node name `{long}` is 33 characters long; at most 32 are allowed")
    );
    let t = crate::ok("[nodes.host]\nforwarding = true\nloopback = false\n[nodes.\"a.b\"]\n");
    assert_eq!(t.nodes.len(), 2);
    assert!(t.nodes[0].forwarding && !t.nodes[0].loopback);
}

#[test]
fn size_caps() {
    let mut src = String::from("[nodes]\n");
    for i in 0..=4096 {
        src.push_str(&format!("n{i} = {{}}\n"));
    }
    let d = one(&src);
    check(
        &d,
        4098,
        1,
        "too many nodes: 4097; at most 4096 are allowed",
    );

    let mut src = String::from("links = [\n");
    for i in 0..=16384 {
        src.push_str(&format!(
            "{{ endpoints = [\"host:a{i}\", \"host:b{i}\"] }},\n"
        ));
    }
    src.push_str("]\n");
    let d = one(&src);
    check(
        &d,
        16386,
        1,
        "too many links: 16385; at most 16384 are allowed",
    );

    let addrs: Vec<String> = (0..257).map(|i| format!("\"fd00::{i:x}/64\"")).collect();
    let src = format!(
        "[[links]]\nendpoints = [{{ iface = \"host:a\", addresses = [{}] }}, \"host:b\"]\n",
        addrs.join(", ")
    );
    let d = one(&src);
    check(
        &d,
        2,
        46,
        "257 addresses on one interface; at most 256 are allowed",
    );

    let routes: Vec<String> = (0..4097)
        .map(|i| format!("\"blackhole 10.{}.{}.0/24\"", i / 256, i % 256))
        .collect();
    let d = one(&format!("[nodes.ns1]\nroutes = [{}]\n", routes.join(",\n")));
    assert_eq!(
        d.message,
        "too many routes in node `ns1`: 4097; at most 4096 are allowed"
    );
    assert_eq!(d.line, 4098);
}

#[test]
fn errors_are_collected_sorted_and_separated() {
    let src = "[nodes.ns1]\nloopback = 1\nforwarding = 2\n";
    let e = parse(src, "t.toml").unwrap_err();
    let lines: Vec<usize> = e.diagnostics().iter().map(|d| d.line).collect();
    assert_eq!(lines, [2, 3]);
    assert_eq!(
        e.to_string(),
        "error: expected a boolean (`true` or `false`), found an integer
 --> t.toml:2:12
  |
2 | loopback = 1
  |            ^

error: expected a boolean (`true` or `false`), found an integer
 --> t.toml:3:14
  |
3 | forwarding = 2
  |              ^"
    );
    // Error is a std error, cloneable.
    let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
    assert!(boxed.to_string().contains("t.toml:3:14"));
}

#[test]
fn columns_count_characters_and_gutter_grows() {
    let mut src = "# é ü\n".repeat(11);
    src.push_str("[nodes.ns1]\nroutes = [\"ré 10.0.0.0/8\"]\n");
    let d = one(&src);
    check(&d, 13, 12, "invalid route destination `ré`");
    assert_eq!(
        d.to_string(),
        "error: invalid route destination `ré`
  --> t.toml:13:12
   |
13 | routes = [\"ré 10.0.0.0/8\"]
   |            ^^
   = help: write `default`, a prefix like `10.0.0.0/8`, or an address like `10.9.9.9`"
    );
    let e = errs("x = 1");
    assert_eq!(e[0].source_line, "x = 1");
}
