//! `[[checks]]`: the steps a scenario file carries, and the diagnostics for mistakes in
//! them (same quality as the rest: position, caret, did-you-mean, help).

use std::net::IpAddr;
use std::time::Duration;

use netns_test_topology::{ConnectExpect, PingExpect, Proto, Step, parse};

use crate::{errs, ok, one};

const PAIR: &str = r#"
[nodes.ns1]
[nodes.ns2]
[nodes.bare]
[[links]]
endpoints = [
  { iface = "ns1:veth-ns1", addresses = "192.168.1.1/24" },
  { iface = "ns2:veth-ns2", addresses = ["192.168.1.2/24", "fd00::2/64"] },
]
"#;

fn with(checks: &str) -> String {
    format!("{PAIR}{checks}")
}

fn help(d: &netns_test_topology::Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

#[test]
fn every_step_kind_parses_with_defaults() {
    let t = ok(&with(
        r#"
[[checks]]
ping = { from = "ns1", to = "ns2" }
[[checks]]
connect = { from = "ns1", to = "[fd00::2]:80", proto = "udp", expect = "refused", timeout = "250ms" }
[[checks]]
connect = { from = "ns2", to = "ns1:22" }
[[checks]]
path = { from = "ns1", to = "192.168.1.2", hops = ["192.168.1.2"] }
[[checks]]
run = { node = "ns2", cmd = ["true"] }
[[checks]]
wait = "1.5s"
[[checks]]
name = "fault"
link = { node = "ns2", iface = "lo", state = "down" }
"#,
    ));
    assert_eq!(t.checks.len(), 7);
    let Step::Ping(p) = &t.checks[0].step else {
        panic!()
    };
    assert_eq!(p.to.addr, "192.168.1.2".parse::<IpAddr>().unwrap());
    assert_eq!(p.to.node.as_deref(), Some("ns2"));
    assert_eq!(
        (p.expect, p.ttl, p.timeout),
        (PingExpect::Reply, None, Duration::from_secs(1))
    );
    let Step::Connect(c) = &t.checks[1].step else {
        panic!()
    };
    assert_eq!(c.to.to_string(), "[fd00::2]:80");
    assert_eq!(
        (c.proto, c.expect, c.listener.as_deref()),
        (Proto::Udp, ConnectExpect::Refused, None)
    );
    assert_eq!(c.timeout, Duration::from_millis(250));
    let Step::Connect(c) = &t.checks[2].step else {
        panic!()
    };
    assert_eq!(c.to.to_string(), "192.168.1.1:22");
    assert_eq!(
        (c.proto, c.expect, c.listener.as_deref()),
        (Proto::Tcp, ConnectExpect::Accepted, Some("ns1"))
    );
    let Step::Run(r) = &t.checks[4].step else {
        panic!()
    };
    assert_eq!((r.status, r.timeout), (0, Duration::from_secs(10)));
    assert_eq!(t.checks[5].step, Step::Wait(Duration::from_millis(1500)));
    assert_eq!(t.checks[6].to_string(), "fault: link ns2:lo down");
    assert_eq!(t.checks[6].line, 25);
}

#[test]
fn seed_fixtures_carry_their_walk_through_checks() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    for name in [
        "s1",
        "s2",
        "s3",
        "s4",
        "s4-noroutes",
        "s4-host-router",
        "s5",
        "s5-nodefault",
        "s6",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
        let t = parse(&text, name).unwrap();
        assert!(!t.checks.is_empty(), "{name} has no checks");
    }
    let text = std::fs::read_to_string(dir.join("s6.toml")).unwrap();
    let t = parse(&text, "s6").unwrap();
    let Step::Path(p) = &t.checks[0].step else {
        panic!("s6 starts with its path")
    };
    let hops: Vec<String> = p.hops.iter().map(|h| h.to_string()).collect();
    assert_eq!(hops, ["192.168.1.1", "10.0.2.16", "192.168.2.2"]);
}

#[test]
fn unknown_node_in_a_check_points_at_it_with_a_suggestion() {
    let d = one(&with(
        "[[checks]]\nping = { from = \"nss1\", to = \"ns2\" }\n",
    ));
    assert_eq!(
        d.to_string(),
        "error: unknown node `nss1` in a `ping` check
  --> t.toml:11:17
   |
11 | ping = { from = \"nss1\", to = \"ns2\" }
   |                 ^^^^^^
   = help: did you mean `ns1`? the nodes are: host, ns1, ns2, bare"
    );
}

#[test]
fn unknown_expectation_suggests_the_closest() {
    let d = one(&with(
        "[[checks]]\nping = { from = \"ns1\", to = \"ns2\", expect = \"replly\" }\n",
    ));
    assert_eq!(d.message, "unknown ping expectation `replly`");
    assert_eq!(
        help(&d),
        "did you mean `reply`? write one of: reply, unreachable, timeout"
    );
}

#[test]
fn unknown_keys_in_a_step_and_in_a_check() {
    let d = errs(&with(
        "[[checks]]\nnme = \"x\"\nping = { from = \"ns1\", to = \"ns2\", tll = 64 }\n",
    ));
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[0].message, "unknown key `nme` in a check");
    assert!(
        help(&d[0]).starts_with("did you mean `name`?"),
        "{}",
        help(&d[0])
    );
    assert_eq!(d[1].message, "unknown key `tll` in `ping` check");
    assert_eq!(
        help(&d[1]),
        "did you mean `ttl`? accepted keys: from, to, expect, ttl, timeout"
    );
}

#[test]
fn a_check_holds_exactly_one_step() {
    let d = one(&with(
        "[[checks]]\nwait = \"1s\"\nping = { from = \"ns1\", to = \"ns2\" }\n",
    ));
    assert_eq!(
        d.message,
        "a check has more than one step (`wait` and `ping`)"
    );
    assert_eq!((d.line, d.column), (12, 1));
    let d = one(&with("[[checks]]\nname = \"nothing\"\n"));
    assert_eq!(d.message, "a check needs a step");
    assert!(help(&d).starts_with("add one of: ping, connect, path, run, wait, link, impair"));
}

#[test]
fn destinations_must_be_addresses_or_nodes_with_addresses() {
    let d = one(&with(
        "[[checks]]\nping = { from = \"ns1\", to = \"ns3\" }\n",
    ));
    assert_eq!(d.message, "`ns3` is neither an IP address nor a node");
    let d = one(&with(
        "[[checks]]\nping = { from = \"ns1\", to = \"bare\" }\n",
    ));
    assert_eq!(d.message, "node `bare` has no address to ping");
    let d = one(&with(
        "[[checks]]\nping = { from = \"ns1\", to = \"192.168.1.0/24\" }\n",
    ));
    assert_eq!(d.message, "`192.168.1.0/24` is a subnet, not an address");
}

#[test]
fn connect_needs_a_port_and_an_owner_for_accepted() {
    let d = one(&with(
        "[[checks]]\nconnect = { from = \"ns1\", to = \"192.168.1.2\" }\n",
    ));
    assert_eq!(d.message, "`192.168.1.2` has no port");
    let d = one(&with(
        "[[checks]]\nconnect = { from = \"ns1\", to = \"192.168.1.2:http\" }\n",
    ));
    assert_eq!(d.message, "invalid port `http`");
    assert_eq!(d.column, 45, "the caret is under the port");
    let d = one(&with(
        "[[checks]]\nconnect = { from = \"ns1\", to = \"192.168.1.9:80\" }\n",
    ));
    assert_eq!(
        d.message,
        "no node has address 192.168.1.9, so nothing can accept this connection"
    );
    ok(&with(
        "[[checks]]\nconnect = { from = \"ns1\", to = \"192.168.1.9:80\", expect = \"timeout\" }\n",
    ));
}

#[test]
fn ttl_only_with_a_reply() {
    let d = one(&with(
        "[[checks]]\nping = { from = \"ns1\", to = \"ns2\", expect = \"timeout\", ttl = 64 }\n",
    ));
    assert_eq!(
        d.message,
        "`ttl` is the TTL of a reply, but this ping expects `timeout`"
    );
    let d = one(&with(
        "[[checks]]\nping = { from = \"ns1\", to = \"ns2\", ttl = 300 }\n",
    ));
    assert_eq!(d.message, "TTL 300 is out of range");
}

#[test]
fn link_faults_name_existing_interfaces() {
    let d = one(&with(
        "[[checks]]\nlink = { node = \"ns1\", iface = \"vethns1\", state = \"down\" }\n",
    ));
    assert_eq!(d.message, "node `ns1` has no interface `vethns1`");
    assert_eq!(
        help(&d),
        "did you mean `veth-ns1`? interfaces of ns1: veth-ns1, lo"
    );
    let d = one(&with(
        "[[checks]]\nlink = { node = \"ns1\", iface = \"veth-ns1\", state = \"off\" }\n",
    ));
    assert_eq!(help(&d), "write one of: up, down");
}

#[test]
fn durations_need_units() {
    let d = one(&with("[[checks]]\nwait = 100\n"));
    assert_eq!(d.message, "a duration needs a unit");
    let d = one(&with("[[checks]]\nwait = \"5 years\"\n"));
    assert_eq!(d.message, "invalid duration `5 years`");
    let d = one(&with("[[checks]]\nwait = \"2h\"\n"));
    assert_eq!(d.message, "invalid duration `2h`");
    let d = one(&with("[[checks]]\nwait = \"61m\"\n"));
    assert_eq!(d.message, "duration `61m` is longer than an hour");
}

#[test]
fn run_needs_a_command() {
    let d = one(&with("[[checks]]\nrun = { node = \"ns1\", cmd = [] }\n"));
    assert_eq!(d.message, "empty command");
    let d = one(&with("[[checks]]\nrun = { node = \"ns1\" }\n"));
    assert_eq!(d.message, "missing key `cmd` in `run` check");
}

#[test]
fn checks_must_be_an_array_of_tables() {
    let d = one(&format!("checks = \"ping\"\n{PAIR}"));
    assert!(
        d.message.starts_with("expected an array of tables"),
        "{}",
        d.message
    );
}

#[test]
fn impair_steps_change_an_interfaces_impairment() {
    let t = netns_test_topology::parse(
        "[nodes.a]\n[[links]]\nendpoints = [\"a:eth0\", \"host:eth0\"]\n[[checks]]\nimpair = { node = \"a\", iface = \"eth0\", netem = { delay = \"100ms\" }, rate = \"1mbit\" }\n[[checks]]\nimpair = { node = \"a\", iface = \"eth0\" }\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        t.checks[0].to_string(),
        "impair a:eth0 delay 100ms rate 1mbit"
    );
    assert_eq!(t.checks[1].to_string(), "impair a:eth0 none");
    let e = netns_test_topology::parse(
        "[nodes.a]\n[[links]]\nendpoints = [\"a:eth0\", \"host:eth0\"]\n[[checks]]\nimpair = { node = \"a\", iface = \"eth1\", netem = { delay = \"1 fortnight\" } }\n",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("node `a` has no interface `eth1`"), "{e}");
    assert!(e.contains("unknown unit `fortnight`"), "{e}");
}

#[test]
fn link_level_faults_parse_and_name_whole_links() {
    let t = ok(&with(
        r#"
[[checks]]
cut = "ns2:veth-ns2"
[[checks]]
restore = "ns1:veth-ns1"
[[checks]]
partition = ["ns1", "bare"]
[[checks]]
heal = true
"#,
    ));
    let steps: Vec<&Step> = t.checks.iter().map(|c| &c.step).collect();
    assert_eq!(steps[0], &Step::Cut("ns2:veth-ns2".into()));
    assert_eq!(steps[1], &Step::Restore("ns1:veth-ns1".into()));
    assert_eq!(
        steps[2],
        &Step::Partition(vec!["ns1".into(), "bare".into()])
    );
    assert_eq!(steps[3], &Step::Heal);
    let text: Vec<String> = t.checks.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        text,
        [
            "cut the link of ns2:veth-ns2",
            "restore the link of ns1:veth-ns1",
            "partition ns1, bare from the rest",
            "heal every cut link",
        ]
    );
}

#[test]
fn link_level_faults_need_link_ends_and_nodes() {
    // The interface, not the whole string, is pointed at, with the node's link ends.
    let src = with("[[checks]]\ncut = \"ns1:veth-ns2\"\n");
    let d = one(&src);
    assert_eq!(
        d.message,
        "`ns1:veth-ns2` is not an end of a link, so there is no link to cut"
    );
    assert_eq!(
        help(&d),
        "`veth-ns2` is an end in node `ns2`: did you mean `ns2:veth-ns2`?"
    );
    assert_eq!(&src[d.span.clone()], "veth-ns2");
    let d = one(&with("[[checks]]\ncut = \"ns1:vethns1\"\n"));
    assert_eq!(
        help(&d),
        "did you mean `veth-ns1`? the link ends of ns1: veth-ns1"
    );
    // A node on no link is told what acts on its interfaces instead.
    let d = one(&with("[[checks]]\nrestore = \"bare:lo\"\n"));
    assert!(
        help(&d).starts_with("node `bare` is on no `[[links]]` entry"),
        "{}",
        help(&d)
    );
    let d = one(&with("[[checks]]\nrestore = \"ns3:veth-ns1\"\n"));
    assert_eq!(d.message, "unknown node `ns3` in a `restore` check");
    let d = one(&with("[[checks]]\ncut = \"veth-ns1\"\n"));
    assert_eq!(d.message, "`veth-ns1` is not a link end");
    // Every unknown node of a partition is reported, not just the first.
    let d = errs(&with(
        "[[checks]]\npartition = [\"ns1\", \"nsX\", \"nsY\"]\n",
    ));
    assert_eq!(d.len(), 2, "{d:?}");
    let d = one(&with("[[checks]]\npartition = []\n"));
    assert_eq!(d.message, "an empty partition cuts nothing");
    let d = one(&with("[[checks]]\nheal = false\n"));
    assert_eq!(d.message, "`heal = false` does nothing");
    let d = one(&with("[[checks]]\nheal = \"yes\"\n"));
    assert!(d.message.contains("boolean"), "{}", d.message);
}

#[test]
fn route_steps_add_and_remove_routes_checked_like_the_nodes_routes() {
    let t = ok(&with(
        r#"
[[checks]]
route = { node = "ns1", remove = "192.168.1.0/24 dev veth-ns1" }
[[checks]]
route = { node = "ns2", add = "blackhole 10.9.0.0/16 metric 3" }
"#,
    ));
    let text: Vec<String> = t.checks.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        text,
        [
            "route in ns1: remove 192.168.1.0/24 dev veth-ns1",
            "route in ns2: add blackhole 10.9.0.0/16 metric 3",
        ]
    );
    // The route's own mistakes point at the word, as in `routes`.
    let src =
        with("[[checks]]\nroute = { node = \"ns1\", add = \"10.0.0.0/8 vai 192.168.1.2\" }\n");
    let d = one(&src);
    assert_eq!(
        d.message,
        "unexpected `vai` in route `10.0.0.0/8 vai 192.168.1.2`"
    );
    assert_eq!(&src[d.span.clone()], "vai");
    // A `dev` the node lacks, with its interfaces.
    let d = one(&with(
        "[[checks]]\nroute = { node = \"ns1\", add = \"default dev veth-ns2\" }\n",
    ));
    assert_eq!(d.message, "node `ns1` has no interface `veth-ns2`");
    let d = one(&with("[[checks]]\nroute = { node = \"ns1\" }\n"));
    assert_eq!(d.message, "a `route` step needs `add` or `remove`");
    let d = one(&with(
        "[[checks]]\nroute = { node = \"ns1\", add = \"default dev veth-ns1\", remove = \"default dev veth-ns1\" }\n",
    ));
    assert_eq!(d.message, "a `route` step either adds or removes");
    let d = one(&with(
        "[[checks]]\nroute = { node = \"nsX\", add = \"default dev veth-ns1\" }\n",
    ));
    assert_eq!(d.message, "unknown node `nsX` in a `route` check");
}
