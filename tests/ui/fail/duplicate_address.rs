use netns_test::netns_test;

#[netns_test(topology = r#"
[nodes.ns1]
[nodes.ns2]

[[links]]
endpoints = [
    { iface = "ns1:veth-ns1", addresses = ["192.168.1.1/24"] },
    { iface = "ns2:veth-ns2", addresses = ["192.168.1.1/24"] },
]
"#)]
fn duplicate_address(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
