//! Running one step against the network and comparing what happened with what the
//! step expects.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::time::Duration;

use netns_test_topology::{
    ImpairCheck, LinkCheck, PathCheck, PingCheck, PingExpect, Step, format_duration,
};

use super::StepOutcome;
use crate::error::Error;
use crate::icmp::PingOptions;
use crate::net::Net;

/// Runs one step.
pub(super) fn run(net: &Net, step: &Step) -> StepOutcome {
    match step {
        Step::Ping(p) => ping(net, p),
        Step::Connect(c) => super::connect::run(net, c),
        Step::Path(p) => path(net, p),
        Step::Run(r) => super::command::run(net, r),
        Step::Wait(d) => {
            std::thread::sleep(*d);
            pass(format!("waited {}", format_duration(*d)))
        }
        Step::Link(l) => link(net, l),
        Step::Impair(i) => impair(net, i),
        Step::Cut(end) => outcome(
            format!("the link of {end} cut"),
            net.cut_link(end)
                .map(|()| format!("the link of {end} is cut (both ends down)")),
        ),
        Step::Restore(end) => outcome(
            format!("the link of {end} restored"),
            net.restore_link(end).map(|()| {
                format!("the link of {end} is back: both ends up, addresses and routes restored")
            }),
        ),
        Step::Partition(side) => {
            let side: Vec<&str> = side.iter().map(String::as_str).collect();
            outcome(
                format!("{} partitioned from the rest", side.join(", ")),
                net.partition(&side).map(|cut| match cut.as_slice() {
                    [] => "no link crosses: nothing cut".to_owned(),
                    cut => format!("cut {}", cut.join(", ")),
                }),
            )
        }
        Step::Heal => outcome(
            "every cut link restored",
            net.heal().map(|()| "every cut link is back".to_owned()),
        ),
        Step::Route(r) => {
            let (verb, done) = if r.add {
                ("added", "in")
            } else {
                ("removed", "gone from")
            };
            let route = &r.route;
            outcome(
                format!("{route} {verb} in {}", r.node),
                net.try_node(&r.node)
                    .and_then(|n| n.change_route(route, r.add))
                    .map(|()| format!("{route} is {done} {}'s routes", r.node)),
            )
        }
        other => fail(
            "a step this version knows",
            format!("unsupported step `{other}`"),
        ),
    }
}

/// Passed with what `result` says, or failed with its error.
fn outcome(expected: impl Into<String>, result: crate::Result<String>) -> StepOutcome {
    match result {
        Ok(observed) => pass(observed),
        Err(e) => fail(expected, e.to_string()),
    }
}

pub(super) fn pass(observed: impl Into<String>) -> StepOutcome {
    StepOutcome::Passed {
        observed: observed.into(),
    }
}

pub(super) fn fail(expected: impl Into<String>, observed: impl Into<String>) -> StepOutcome {
    StepOutcome::Failed {
        expected: expected.into(),
        observed: observed.into(),
    }
}

/// Whether an error is the kernel refusing to send, or a router's ICMP error.
pub(super) fn is_unreachable_kind(kind: Option<ErrorKind>) -> bool {
    matches!(
        kind,
        Some(ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable)
    )
}

/// What a ping ended with, in a few words.
enum Seen {
    Reply { from: IpAddr, ttl: u8 },
    Unreachable(String),
    Timeout(Duration),
    Error(String),
}

fn ping(net: &Net, p: &PingCheck) -> StepOutcome {
    let node = match net.try_node(&p.from) {
        Ok(n) => n,
        Err(e) => return fail("the node to exist", e.to_string()),
    };
    let opts = PingOptions::default().timeout(p.timeout);
    let seen = match node.ping_with(p.to.addr, opts) {
        Ok(r) => Seen::Reply {
            from: r.from,
            ttl: r.ttl,
        },
        Err(Error::Unreachable { from, reason, .. }) => {
            Seen::Unreachable(format!("unreachable: {from} says {reason}"))
        }
        Err(Error::Timeout { after, .. }) => Seen::Timeout(after),
        Err(e) if is_unreachable_kind(e.io_kind()) => {
            let why = e
                .io_error()
                .map_or_else(|| e.to_string(), ToString::to_string);
            Seen::Unreachable(format!("unreachable: {why}"))
        }
        Err(e) => Seen::Error(e.to_string()),
    };
    let observed = match &seen {
        Seen::Reply { from, ttl } => format!("reply from {from}, ttl {ttl}"),
        Seen::Unreachable(s) | Seen::Error(s) => s.clone(),
        Seen::Timeout(after) => format!("no answer within {}", format_duration(*after)),
    };
    let expected = match (p.expect, p.ttl) {
        (PingExpect::Reply, Some(ttl)) => format!("a reply with ttl {ttl}"),
        (PingExpect::Reply, None) => "a reply".to_owned(),
        (PingExpect::Unreachable, _) => {
            "unreachable (no route, or an ICMP error from a router)".to_owned()
        }
        (PingExpect::Timeout, _) => {
            format!("no answer within {}", format_duration(p.timeout))
        }
    };
    let ok = match (&seen, p.expect) {
        (Seen::Reply { ttl, .. }, PingExpect::Reply) => p.ttl.is_none_or(|want| want == *ttl),
        (Seen::Unreachable(_), PingExpect::Unreachable) => true,
        (Seen::Timeout(_), PingExpect::Timeout) => true,
        _ => false,
    };
    if ok {
        pass(observed)
    } else {
        fail(expected, observed)
    }
}

fn path(net: &Net, p: &PathCheck) -> StepOutcome {
    let list = |hops: &mut dyn Iterator<Item = Option<IpAddr>>| {
        hops.map(|h| h.map_or_else(|| "*".to_owned(), |a| a.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let expected = list(&mut p.hops.iter().map(|h| Some(*h)));
    let node = match net.try_node(&p.from) {
        Ok(n) => n,
        Err(e) => return fail(expected, e.to_string()),
    };
    match node.trace(p.to.addr) {
        Ok(hops) => {
            let seen: Vec<Option<IpAddr>> = hops.iter().map(|h| h.addr).collect();
            let observed = list(&mut seen.iter().copied());
            let want: Vec<Option<IpAddr>> = p.hops.iter().map(|h| Some(*h)).collect();
            if seen == want {
                pass(observed)
            } else {
                fail(expected, observed)
            }
        }
        Err(e) => fail(expected, format!("the trace failed: {e}")),
    }
}

fn link(net: &Net, l: &LinkCheck) -> StepOutcome {
    let state = if l.up { "up" } else { "down" };
    outcome(
        format!("{}:{} set {state}", l.node, l.iface),
        net.try_node(&l.node)
            .and_then(|n| n.set_link_up(&l.iface, l.up))
            .map(|()| format!("{}:{} is {state}", l.node, l.iface)),
    )
}

fn impair(net: &Net, i: &ImpairCheck) -> StepOutcome {
    outcome(
        format!("{}:{} impaired: {}", i.node, i.iface, i.impairment),
        net.try_node(&i.node)
            .and_then(|n| n.set_impairment(&i.iface, &i.impairment))
            .map(|()| format!("{}:{} now {}", i.node, i.iface, i.impairment)),
    )
}
