//! Names inside the test: `/etc/hosts` with every node's name, and per node its own
//! entries (`hosts = { ... }`) and host name (`hostname = "..."`).
//!
//! Turned on when some node declares `hostname` or `hosts`. Then, in the test's own
//! mount namespace (never the machine's): a fresh tmpfs is mounted on `/dev/shm` (so
//! the test sees a private, empty `/dev/shm`), the hosts files are written there, and
//! the topology-wide one is bound on `/etc/hosts` for the whole test process. Code
//! running in a node (`Node::run`, `Node::spawn`, `Node::command`) gets mount and UTS
//! namespaces of its own with the node's file on `/etc/hosts` and the node's host name
//! (default: the node's name).
//!
//! A node's name resolves to its first address (IPv4 first), in the order the
//! topology creates interfaces: bridges, devices, then veth ends.

use std::ffi::CString;
use std::fmt::Write as _;
use std::net::IpAddr;

use netns_test_topology::{HOST, Node as NodeSpec, Topology};

use crate::error::{Error, Result};
use crate::ns::node_env::NodeEnv;

/// Where the hosts files are staged, in the test's private tmpfs.
const STAGE: &str = "/dev/shm/netns-test-hosts";

/// Whether the topology asks for per-node names.
pub(crate) fn wanted(topo: &Topology) -> bool {
    topo.nodes
        .iter()
        .any(|n| n.hostname.is_some() || !n.hosts.is_empty())
}

/// The address a node's name stands for.
fn address_of(topo: &Topology, node: &str) -> Option<IpAddr> {
    let addrs: Vec<IpAddr> = topo
        .interfaces_of(node)
        .iter()
        .flat_map(|i| i.config.addresses.iter().map(|a| a.addr()))
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
}

/// The topology-wide file: localhost and every node's name.
fn base(topo: &Topology) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n# netns-test: the nodes\n",
    );
    for n in &topo.nodes {
        if let Some(a) = address_of(topo, &n.name) {
            let _ = writeln!(s, "{a}\t{}", n.name);
        }
    }
    s
}

/// One node's file: the base, its host name, and its own entries.
fn node_file(base: &str, spec: &NodeSpec, hostname: &str) -> String {
    let mut s = base.to_owned();
    let _ = writeln!(s, "127.0.1.1\t{hostname}");
    if !spec.hosts.is_empty() {
        let _ = writeln!(s, "# node {}", spec.name);
        for (name, a) in &spec.hosts {
            let _ = writeln!(s, "{a}\t{name}");
        }
    }
    s
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(None, what, e)
}

/// Sets everything up; returns each node's environment, in topology order (`None`
/// for all when the topology does not ask for it). Must run in the test's own mount
/// namespace (the test child, or a process after `isolate()`).
pub(crate) fn prepare(topo: &Topology) -> Result<Vec<Option<NodeEnv>>> {
    if !wanted(topo) {
        return Ok(vec![None; topo.nodes.len()]);
    }
    use nix::mount::{MsFlags, mount};
    mount(
        Some("tmpfs"),
        "/dev/shm",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )
    .map_err(|e| {
        Error::io(
            None,
            "mounting a private tmpfs on /dev/shm for the nodes' /etc/hosts files (`hostname`/`hosts` in the topology)",
            e.into(),
        )
    })?;
    // Each node's file in `nodes/`, apart from the shared one: a node may be named `all`.
    let nodes_dir = format!("{STAGE}/nodes");
    std::fs::create_dir_all(&nodes_dir).map_err(io_err(format!("creating {nodes_dir}")))?;
    let base = base(topo);
    let all = format!("{STAGE}/all");
    let mut host_extra = String::new();
    if let Some(h) = topo.node(HOST) {
        for (name, a) in &h.hosts {
            let _ = writeln!(host_extra, "{a}\t{name}");
        }
    }
    std::fs::write(&all, format!("{base}{host_extra}"))
        .map_err(io_err(format!("writing {all}")))?;
    mount(
        Some(all.as_str()),
        "/etc/hosts",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::io(None, format!("binding {all} on /etc/hosts"), e.into()))?;
    if let Some(name) = topo.node(HOST).and_then(|h| h.hostname.as_ref()) {
        let c = CString::new(name.as_str()).unwrap_or_default();
        crate::ns::node_env::set_hostname(&c)
            .map_err(|e| Error::io(Some(HOST), format!("setting the host name to {name}"), e))?;
    }
    let mut out = Vec::with_capacity(topo.nodes.len());
    for spec in &topo.nodes {
        if spec.name == HOST {
            out.push(None);
            continue;
        }
        let hostname = spec.hostname.clone().unwrap_or_else(|| spec.name.clone());
        let path = format!("{nodes_dir}/{}", spec.name);
        std::fs::write(&path, node_file(&base, spec, &hostname))
            .map_err(io_err(format!("writing {path}")))?;
        // Validated names and paths hold no NUL byte.
        out.push(Some(NodeEnv {
            hosts: CString::new(path).unwrap_or_default(),
            hostname: CString::new(hostname).unwrap_or_default(),
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_name_every_node_and_the_nodes_own_entries() {
        let t = netns_test_topology::parse(
            r#"
[nodes.a]
hostname = "alpha"
hosts = { "db.example" = "10.9.9.9" }
[nodes.b]
[[links]]
endpoints = [
  { iface = "a:e0", addresses = ["fd00::1/64", "10.0.0.1/24"] },
  { iface = "b:e0", addresses = "fd00::2/64" },
]
"#,
            "t",
        )
        .unwrap();
        assert!(wanted(&t));
        let base = base(&t);
        assert!(base.contains("10.0.0.1\ta\n"), "{base}");
        assert!(base.contains("fd00::2\tb\n"), "{base}");
        assert!(!base.contains("\thost\n"), "{base}");
        let a = node_file(&base, t.node("a").unwrap(), "alpha");
        assert!(
            a.ends_with("127.0.1.1\talpha\n# node a\n10.9.9.9\tdb.example\n"),
            "{a}"
        );
    }
}
