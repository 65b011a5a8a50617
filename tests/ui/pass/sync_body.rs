use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
fn from_a_file(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = r#"
[nodes.ns1]
[nodes.ns2]

[[links]]
endpoints = [
    { iface = "ns1:veth-ns1", addresses = ["192.168.1.1/24"] },
    { iface = "ns2:veth-ns2", addresses = ["192.168.1.2/24"] },
]
"#)]
fn inline(_: &netns_test::Net) {}

#[netns_test(topology = "ui/topologies/pair.toml")]
pub fn public_with_a_mut_binding(mut net: &netns_test::Net) {
    let other = net;
    net = other;
    let _ = net;
}

fn main() {}
