use netns_test::netns_test;

#[netns_test(topology = r#"
[nodes.ns1]
[nodes.ns2]
[nodes.ns3]

[[links]]
endpoints = [{ iface = "ns1:eth0" }, { iface = "ns2:eth0" }]

[[links]]
endpoints = [{ iface = "ns1:eth0" }, { iface = "ns3:eth0" }]
"#)]
fn duplicate_iface(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
