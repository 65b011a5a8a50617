//! Layer 2 segments: the two ends of a veth pair are one segment, and so are a bridge
//! and its ports. One IP address may appear only once per segment.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::{Registry, Role};
use crate::addr::line_of;
use crate::ast::Doc;
use crate::reader::Ctx;

/// Union-find over registry indices.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut i: usize) -> usize {
        while let Some(&p) = self.0.get(i) {
            if p == i {
                break;
            }
            let grand = self.0.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.0.get_mut(i) {
                *slot = grand;
            }
            i = p;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if let Some(slot) = self.0.get_mut(ra.max(rb)) {
            *slot = ra.min(rb);
        }
    }
}

pub(super) fn check(ctx: &mut Ctx<'_>, doc: &Doc, reg: &Registry<'_>) {
    let mut sets = Sets((0..reg.list.len()).collect());
    let index = |node: &str, name: &str| reg.get(node, name).map(|(i, _, _)| i);
    for link in doc.links.iter().filter(|l| l.pair) {
        if let [a, b] = link.ends.as_slice() {
            if let (Some(a), Some(b)) = (index(&a.node, &a.name), index(&b.node, &b.name)) {
                sets.union(a, b);
            }
        }
    }
    // A port's address is already reported as misplaced: do not report it again.
    let mut ports = HashSet::new();
    for b in &doc.bridges {
        let Some(bi) = index(&b.iface.node, &b.iface.name) else {
            continue;
        };
        for p in &b.ports {
            if let Some((pi, _, role)) = reg.get(&b.iface.node, &p.name) {
                if role != Role::Bridge && pi != bi {
                    sets.union(bi, pi);
                    ports.insert(pi);
                }
            }
        }
    }
    let mut seen: HashMap<(usize, IpAddr), usize> = HashMap::new();
    for (i, (decl, _)) in reg.list.iter().enumerate() {
        if ports.contains(&i) {
            continue;
        }
        let root = sets.find(i);
        for a in &decl.addresses {
            let ip = a.net.addr();
            match seen.get(&(root, ip)) {
                Some(&first) if first != i => {
                    let Some((other, _)) = reg.list.get(first) else {
                        continue;
                    };
                    let msg = format!(
                        "address {ip} is used twice in one layer 2 segment: on `{}:{}` and on `{}:{}`",
                        other.node, other.name, decl.node, decl.name
                    );
                    let first_line = other
                        .addresses
                        .iter()
                        .find(|o| o.net.addr() == ip)
                        .map_or(0, |o| line_of(ctx.src, o.span.start));
                    let help = format!(
                        "the first is on line {first_line}; give every interface of a segment its own address"
                    );
                    ctx.err(&a.span, msg, help);
                }
                Some(_) => {}
                None => {
                    seen.insert((root, ip), i);
                }
            }
        }
    }
}
