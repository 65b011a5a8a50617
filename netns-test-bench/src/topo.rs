//! Topology text for the benchmark's scenarios, and the same configuration as `ip`
//! commands for the baselines.

use std::fmt::Write;

/// Two nodes joined by one veth pair (seed S1).
pub(crate) fn pair() -> String {
    r#"
[nodes.ns1]
[nodes.ns2]
[[links]]
endpoints = [
  { iface = "ns1:veth-ns1", addresses = "192.168.1.1/24" },
  { iface = "ns2:veth-ns2", addresses = "192.168.1.2/24" },
]
"#
    .to_owned()
}

/// The address of end `end` (0 or 1) of link `i` in a chain: link i is 10.H.L.0/30
/// with H.L = i.
fn chain_addr(i: usize, end: usize) -> String {
    format!("10.{}.{}.{}", i / 256, i % 256, end + 1)
}

/// `n` nodes in a line, n0 - n1 - ... , each link its own /30, forwarding on, every
/// node with routes to both ends of the chain.
pub(crate) fn chain(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(s, "[nodes.n{i}]\nforwarding = true");
        let mut routes = Vec::new();
        if i > 0 {
            routes.push(format!("\"10.0.0.0/8 via {}\"", chain_addr(i - 1, 0)));
        } else if n > 1 {
            routes.push(format!("\"10.0.0.0/8 via {}\"", chain_addr(0, 1)));
        }
        let _ = writeln!(s, "routes = [{}]", routes.join(", "));
    }
    for i in 0..n.saturating_sub(1) {
        let _ = writeln!(
            s,
            "[[links]]\nendpoints = [{{ iface = \"n{i}:right\", addresses = \"{}/30\" }}, {{ iface = \"n{}:left\", addresses = \"{}/30\" }}]",
            chain_addr(i, 0),
            i + 1,
            chain_addr(i, 1)
        );
    }
    s
}

/// The S1 pair as the seeds' walk-through does it: one `ip` process per step.
pub(crate) fn pair_shell_script() -> &'static str {
    "set -e
ip netns add ns1
ip netns add ns2
ip link add veth-ns1 netns ns1 type veth peer name veth-ns2 netns ns2
ip -n ns1 addr add 192.168.1.1/24 dev veth-ns1
ip -n ns2 addr add 192.168.1.2/24 dev veth-ns2
ip -n ns1 link set lo up
ip -n ns2 link set lo up
ip -n ns1 link set veth-ns1 up
ip -n ns2 link set veth-ns2 up
ip netns del ns1
ip netns del ns2
"
}

/// The chain as `ip` batches: one batch creating the namespaces and links, then one
/// per namespace for addresses, routes and link state (`ip -batch` cannot switch
/// namespaces between lines).
pub(crate) fn chain_batches(n: usize) -> (String, Vec<(String, String)>) {
    let mut first = String::new();
    for i in 0..n {
        let _ = writeln!(first, "netns add n{i}");
    }
    for i in 0..n.saturating_sub(1) {
        let _ = writeln!(
            first,
            "link add right netns n{i} type veth peer name left netns n{}",
            i + 1
        );
    }
    let mut per_ns = Vec::new();
    for i in 0..n {
        let mut b = String::from("link set lo up\n");
        if i + 1 < n {
            let _ = writeln!(
                b,
                "addr add {}/30 dev right\nlink set right up",
                chain_addr(i, 0)
            );
        }
        if i > 0 {
            let _ = writeln!(
                b,
                "addr add {}/30 dev left\nlink set left up",
                chain_addr(i - 1, 1)
            );
        }
        let gw = if i > 0 {
            chain_addr(i - 1, 0)
        } else {
            chain_addr(0, 1)
        };
        if n > 1 {
            let _ = writeln!(b, "route add 10.0.0.0/8 via {gw}");
        }
        per_ns.push((format!("n{i}"), b));
    }
    (first, per_ns)
}

/// The S1 walk-through in full: build, ping both ways with iputils, tear down.
pub(crate) fn pair_shell_script_with_ping() -> String {
    pair_shell_script().replace(
        "ip netns del ns1",
        "ip netns exec ns1 ping -c1 -W1 -q 192.168.1.2\nip netns exec ns2 ping -c1 -W1 -q 192.168.1.1\nip netns del ns1",
    )
}

/// The S1 walk-through as the source documents write it: every command inside a
/// namespace through `ip netns exec` (a process that enters the namespace and mounts
/// its /sys), the pings included.
pub(crate) fn pair_documents_script() -> String {
    as_the_documents_write_it(&pair_shell_script_with_ping())
}

/// [`pair_documents_script`] without the pings: the pair built and torn down.
pub(crate) fn pair_documents_build_script() -> String {
    as_the_documents_write_it(pair_shell_script())
}

/// `ip -n NS ...` written as `ip netns exec NS ip ...`.
fn as_the_documents_write_it(script: &str) -> String {
    script
        .replace("ip -n ns1 ", "ip netns exec ns1 ip ")
        .replace("ip -n ns2 ", "ip netns exec ns2 ip ")
}
