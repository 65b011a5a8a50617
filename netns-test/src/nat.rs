//! A node's `nat` and `filter` rules, as one nftables ruleset loaded with `nft -f -`
//! inside the node (its network namespace only: the ruleset comes on stdin and nothing
//! is written anywhere).
//!
//! Each node gets one table, `inet netns_test`, with the chains its rules need:
//! `nat_prerouting` (DNAT), `nat_postrouting` (masquerade and SNAT), and `input`,
//! `forward`, `output` (filter rules, in file order; the first match decides, and
//! packets no rule matches are accepted).
//!
//! The `nft` program comes from the `nftables` package (Debian, Ubuntu, Fedora, Arch).
//! Writing nf_tables netlink messages directly would remove that dependency; `nft` was
//! chosen for now because its ruleset text is what users read and debug.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use netns_test_topology::{
    Action, Chain, FilterRule, NatRule, Node as NodeSpec, RuleProto, Topology,
};

use crate::build::BuiltNode;
use crate::error::{Error, Result};

/// Where `nft` is looked for besides `PATH` (unprivileged users often lack the sbin
/// directories there).
const SBIN: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// Whether the node has rules to load.
fn has_rules(n: &NodeSpec) -> bool {
    !n.nat.is_empty() || !n.filter.is_empty()
}

/// Finds the `nft` program, or says which package provides it.
pub(crate) fn find_nft(topo: &Topology) -> Result<Option<PathBuf>> {
    let Some(node) = topo.nodes.iter().find(|n| has_rules(n)) else {
        return Ok(None);
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(SBIN.iter().map(PathBuf::from));
    for d in dirs {
        let p = d.join("nft");
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    Err(Error::io(
        Some(&node.name),
        format!(
            "the `nat`/`filter` rules of node `{}` are loaded with the `nft` program, which is \
             not installed: install the `nftables` package (`sudo apt-get install nftables` \
             on Debian and Ubuntu, `dnf install nftables` on Fedora)",
            node.name
        ),
        std::io::Error::from(std::io::ErrorKind::NotFound),
    ))
}

/// The node's ruleset, or `None` without rules.
pub(crate) fn ruleset(n: &NodeSpec) -> Option<String> {
    if !has_rules(n) {
        return None;
    }
    let mut pre = Vec::new();
    let mut post = Vec::new();
    for r in &n.nat {
        match r {
            NatRule::Masquerade { out } => post.push(format!("oifname {} masquerade", quote(out))),
            NatRule::Snat { out, to } => {
                post.push(format!(
                    "oifname {} snat {} to {to}",
                    quote(out),
                    family(to)
                ));
            }
            NatRule::Dnat {
                in_iface,
                proto,
                port,
                to,
                to_port,
            } => {
                let mut s = String::new();
                if let Some(i) = in_iface {
                    s.push_str(&format!("iifname {} ", quote(i)));
                }
                s.push_str(&format!(
                    "{} dport {port} dnat {} to ",
                    proto.as_str(),
                    family(to)
                ));
                match (to, to_port) {
                    (IpAddr::V6(a), Some(p)) => s.push_str(&format!("[{a}]:{p}")),
                    (a, Some(p)) => s.push_str(&format!("{a}:{p}")),
                    (a, None) => s.push_str(&a.to_string()),
                }
                pre.push(s);
            }
            _ => {}
        }
    }
    let mut out = String::from("table inet netns_test {\n");
    let mut chain = |name: &str, head: &str, rules: &[String]| {
        if rules.is_empty() {
            return;
        }
        out.push_str(&format!("  chain {name} {{\n    {head}\n"));
        for r in rules {
            out.push_str(&format!("    {r}\n"));
        }
        out.push_str("  }\n");
    };
    chain(
        "nat_prerouting",
        "type nat hook prerouting priority dstnat; policy accept;",
        &pre,
    );
    chain(
        "nat_postrouting",
        "type nat hook postrouting priority srcnat; policy accept;",
        &post,
    );
    for c in [Chain::Input, Chain::Forward, Chain::Output] {
        let rules: Vec<String> = n
            .filter
            .iter()
            .filter(|r| r.chain == c)
            .map(filter_rule)
            .collect();
        let head = format!(
            "type filter hook {} priority filter; policy accept;",
            c.as_str()
        );
        chain(c.as_str(), &head, &rules);
    }
    out.push_str("}\n");
    Some(out)
}

fn family(a: &IpAddr) -> &'static str {
    if a.is_ipv4() { "ip" } else { "ip6" }
}

/// An interface name as an nftables string (names never hold quotes: validated).
fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn filter_rule(r: &FilterRule) -> String {
    let mut m: Vec<String> = Vec::new();
    if let Some(i) = &r.iif {
        m.push(format!("iifname {}", quote(i)));
    }
    if let Some(o) = &r.oif {
        m.push(format!("oifname {}", quote(o)));
    }
    for (dir, net) in [("saddr", r.from), ("daddr", r.to)] {
        if let Some(n) = net {
            m.push(format!("{} {dir} {n}", family(&n.addr())));
        }
    }
    match r.proto {
        Some(RuleProto::Icmp) => m.push("meta l4proto { icmp, ipv6-icmp }".into()),
        Some(p) if r.sport.is_none() && r.dport.is_none() => {
            m.push(format!("meta l4proto {}", p.as_str()));
        }
        Some(p) => {
            if let Some(s) = r.sport {
                m.push(format!("{} sport {s}", p.as_str()));
            }
            if let Some(d) = r.dport {
                m.push(format!("{} dport {d}", p.as_str()));
            }
        }
        None => {}
    }
    m.push(match (r.action, r.proto) {
        (Action::Accept, _) => "accept".into(),
        (Action::Drop, _) => "drop".into(),
        (Action::Reject, Some(RuleProto::Tcp)) => "reject with tcp reset".into(),
        (Action::Reject, _) => "reject".into(),
    });
    m.join(" ")
}

/// Loads every node's ruleset, the `nft` processes of all nodes running at once.
pub(crate) fn load(topo: &Topology, nodes: &[BuiltNode], nft: Option<&PathBuf>) -> Result<()> {
    let Some(nft) = nft else {
        return Ok(());
    };
    let mut running: Vec<(&str, String, Child)> = Vec::new();
    for (spec, node) in topo.nodes.iter().zip(nodes) {
        let Some(text) = ruleset(spec) else { continue };
        let mut cmd = std::process::Command::new(nft);
        cmd.args(["-f", "-"])
            .env_remove(crate::net::CHILD_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        crate::ns::spawn::enter_node(&mut cmd, std::os::fd::AsFd::as_fd(&node.netns));
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io(Some(&spec.name), format!("starting `{}`", nft.display()), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(Some(&spec.name), "writing the ruleset to `nft -f -`", e))?;
        }
        running.push((spec.name.as_str(), text, child));
    }
    for (name, text, child) in running {
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(Some(name), "waiting for `nft -f -`", e))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Err(Error::io(
                Some(name),
                format!(
                    "loading the nat/filter rules (`nft -f -`) failed ({}):\n{why}\nthe ruleset was:\n{text}",
                    out.status
                ),
                std::io::Error::from(std::io::ErrorKind::Other),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_become_one_table() {
        let t = netns_test_topology::parse(
            r#"
[nodes.r]
nat = [{ masquerade = "wan0" }, { dnat = { in = "wan0", port = 8080, to = "192.168.10.5:80" } }]
filter = [
  { action = "reject", proto = "tcp", dport = 80 },
  { action = "drop", chain = "forward", from = "10.0.0.0/8", iif = "wan0" },
  { action = "reject", proto = "icmp" },
]
[[links]]
endpoints = ["r:wan0", "host:e0"]
"#,
            "t",
        )
        .unwrap();
        let text = ruleset(t.node("r").unwrap()).unwrap();
        assert_eq!(
            text,
            r#"table inet netns_test {
  chain nat_prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" tcp dport 8080 dnat ip to 192.168.10.5:80
  }
  chain nat_postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" masquerade
  }
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport 80 reject with tcp reset
    meta l4proto { icmp, ipv6-icmp } reject
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan0" ip saddr 10.0.0.0/8 drop
  }
}
"#
        );
        assert!(ruleset(t.node("host").unwrap()).is_none());
    }
}
