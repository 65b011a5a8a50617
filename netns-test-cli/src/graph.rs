//! `netns-test graph FILE`: the topology as a picture. Nodes are boxes (with their
//! routes and forwarding), bridges ellipses inside the node that holds them, and every
//! veth pair an edge labelled at each end with the interface's name and addresses.
//! `--format dot` writes Graphviz DOT, `svg` renders it with `dot -Tsvg`, and `text`
//! (the default) draws it for the terminal.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use netns_test::topology::{Endpoint, IfaceConfig, Topology};

use crate::Format;

pub(crate) fn graph(file: &Path, format: Format) -> u8 {
    let t = match netns_test::load(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}", crate::error_text(&e));
            return 1;
        }
    };
    match format {
        Format::Text => out!("{}", text(&t)),
        Format::Dot => out!("{}", dot(&t)),
        Format::Svg => match svg(&dot(&t)) {
            Ok(s) => out!("{s}"),
            Err(e) => {
                eprintln!("netns-test: {e}");
                return 1;
            }
        },
    }
    0
}

fn addrs(c: &IfaceConfig) -> String {
    c.addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The bridge (index) an interface is a port of, if any.
fn bridge_of(t: &Topology, e: &Endpoint) -> Option<usize> {
    t.bridges
        .iter()
        .position(|b| b.node == e.node && b.ports.contains(&e.iface))
}

/// Quotes a DOT string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bridge_id(t: &Topology, i: usize) -> String {
    format!("{}/{}", t.bridges[i].node, t.bridges[i].name)
}

/// Graphviz DOT. Every id and label is quoted, so any name is safe.
pub(crate) fn dot(t: &Topology) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "graph {} {{", q(&t.origin));
    let _ = writeln!(
        o,
        "  graph [rankdir=LR, fontname=\"monospace\", label={}];",
        q(&t.origin)
    );
    let _ = writeln!(
        o,
        "  node [shape=box, style=rounded, fontname=\"monospace\", fontsize=10];"
    );
    let _ = writeln!(
        o,
        "  edge [fontname=\"monospace\", fontsize=9, minlen=3, labeldistance=2.5, labelangle=20];"
    );
    let used: HashSet<&str> = t.interfaces().iter().map(|i| i.node).collect();
    for n in &t.nodes {
        if n.name == netns_test::topology::HOST && !used.contains(n.name.as_str()) {
            continue;
        }
        let mut label = n.name.clone();
        if n.forwarding {
            label.push_str("\n(forwarding)");
        }
        for r in &n.routes {
            label.push('\n');
            label.push_str(&r.to_string());
        }
        let _ = writeln!(o, "  {} [label={}];", q(&n.name), q(&label));
    }
    for (i, b) in t.bridges.iter().enumerate() {
        let mut label = format!("{} (bridge)", b.name);
        if !b.config.addresses.is_empty() {
            label.push('\n');
            label.push_str(&addrs(&b.config));
        }
        if b.stp {
            label.push_str("\nSTP");
        }
        let id = bridge_id(t, i);
        let _ = writeln!(
            o,
            "  {} [shape=ellipse, style=solid, label={}];",
            q(&id),
            q(&label)
        );
        let _ = writeln!(
            o,
            "  {} -- {} [style=dashed, minlen=1];",
            q(&b.node),
            q(&id)
        );
    }
    for d in &t.devices {
        let id = format!("{}/{}", d.node, d.name);
        let label = format!(
            "{} ({})\n{}",
            d.name,
            d.kind.kernel_kind(),
            addrs(&d.config)
        );
        let _ = writeln!(
            o,
            "  {} [shape=note, style=solid, label={}];",
            q(&id),
            q(label.trim_end())
        );
        let _ = writeln!(
            o,
            "  {} -- {} [style=dashed, minlen=1];",
            q(&d.node),
            q(&id)
        );
    }
    for l in &t.links {
        let end = |e: &Endpoint| match bridge_of(t, e) {
            Some(b) => bridge_id(t, b),
            None => e.node.clone(),
        };
        let label = |e: &Endpoint| {
            format!("{}\n{}", e.iface, addrs(&e.config))
                .trim_end()
                .to_owned()
        };
        let [a, b] = &l.ends;
        let _ = writeln!(
            o,
            "  {} -- {} [taillabel={}, headlabel={}];",
            q(&end(a)),
            q(&end(b)),
            q(&label(a)),
            q(&label(b))
        );
    }
    o.push_str("}\n");
    o
}

/// Renders DOT as SVG with Graphviz.
fn svg(dot: &str) -> Result<String, String> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.map_err(|e| {
        format!(
            "SVG output needs Graphviz's `dot` on PATH ({e}). Install Graphviz \
             (`apt-get install graphviz`, `brew install graphviz`), or write DOT with \
             `--format dot` and render it elsewhere"
        )
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| format!("writing to `dot`: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for `dot`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`dot -Tsvg` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A compact drawing: one line per veth pair, each bridge with its ports, then the
/// nodes' routes.
pub(crate) fn text(t: &Topology) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", t.origin);
    let side = |e: &Endpoint| {
        let a = addrs(&e.config);
        if a.is_empty() {
            e.iface.clone()
        } else {
            format!("{} {a}", e.iface)
        }
    };
    let owner = |e: &Endpoint| match bridge_of(t, e) {
        Some(b) => format!("{}:{} (bridge)", t.bridges[b].node, t.bridges[b].name),
        None => e.node.clone(),
    };
    if !t.links.is_empty() {
        o.push_str("links:\n");
    }
    for l in &t.links {
        let [a, b] = &l.ends;
        let _ = writeln!(
            o,
            "  {} [{}] <--veth--> [{}] {}",
            owner(a),
            side(a),
            side(b),
            owner(b)
        );
    }
    for b in &t.bridges {
        let a = addrs(&b.config);
        let _ = writeln!(
            o,
            "bridge {}:{}{}{}",
            b.node,
            b.name,
            if a.is_empty() {
                String::new()
            } else {
                format!(" {a}")
            },
            if b.stp { " (STP)" } else { "" }
        );
        for p in &b.ports {
            let _ = writeln!(o, "  +-- port {p}");
        }
    }
    for d in &t.devices {
        let _ = writeln!(
            o,
            "device {}:{} ({}) {}",
            d.node,
            d.name,
            d.kind.kernel_kind(),
            addrs(&d.config)
        );
    }
    let routed: Vec<_> = t
        .nodes
        .iter()
        .filter(|n| !n.routes.is_empty() || n.forwarding)
        .collect();
    if !routed.is_empty() {
        o.push_str("nodes:\n");
    }
    for n in routed {
        let fwd = if n.forwarding { " (forwarding)" } else { "" };
        let _ = writeln!(o, "  {}{fwd}", n.name);
        for r in &n.routes {
            let _ = writeln!(o, "    route {r}");
        }
    }
    o
}
