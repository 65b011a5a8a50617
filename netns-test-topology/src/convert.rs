//! Turning a validated [`Doc`] into the model the runtime builds.

use crate::ast::{Doc, IfaceDecl};
use crate::checks::model::Check;
use crate::model::{Bridge, Device, Endpoint, IfaceConfig, Link, Node, Topology};

fn config(d: &IfaceDecl) -> IfaceConfig {
    IfaceConfig {
        addresses: d.addresses.iter().map(|a| a.net).collect(),
        mtu: d.mtu.as_ref().map(|(m, _)| *m),
        mac: d.mac,
        up: d.up,
        impairment: d.impairment.clone(),
    }
}

fn endpoint(d: &IfaceDecl) -> Endpoint {
    Endpoint {
        node: d.node.clone(),
        iface: d.name.clone(),
        config: config(d),
    }
}

/// Builds the topology. Only called when validation found no error, so every link has
/// two ends; a link without them is skipped rather than trusted.
pub(crate) fn to_topology(doc: Doc, origin: &str, checks: Vec<Check>) -> Topology {
    Topology {
        origin: origin.to_owned(),
        checks,
        nodes: doc
            .nodes
            .into_iter()
            .map(|n| Node {
                name: n.name,
                loopback: n.loopback,
                forwarding: n.forwarding,
                sysctls: n.sysctls,
                routes: n.routes.into_iter().map(|r| r.route).collect(),
                nat: n.nat,
                filter: n.filter,
                hostname: n.hostname,
                hosts: n.hosts,
            })
            .collect(),
        links: doc
            .links
            .iter()
            .filter_map(|l| match l.ends.as_slice() {
                [a, b] => Some(Link {
                    ends: [endpoint(a), endpoint(b)],
                    mode: l.mode,
                }),
                _ => None,
            })
            .collect(),
        bridges: doc
            .bridges
            .iter()
            .map(|b| Bridge {
                node: b.iface.node.clone(),
                name: b.iface.name.clone(),
                ports: b.ports.iter().map(|p| p.name.clone()).collect(),
                config: config(&b.iface),
                stp: b.stp,
                forward_delay: b.forward_delay,
            })
            .collect(),
        devices: doc
            .devices
            .iter()
            .map(|d| Device {
                node: d.iface.node.clone(),
                name: d.iface.name.clone(),
                kind: d.kind,
                config: config(&d.iface),
                settings: d.settings.clone(),
            })
            .collect(),
    }
}
