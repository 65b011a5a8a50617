use netns_test::netns_test;

// Every problem the parser finds is reported, in source order.
#[netns_test(topology = r#"
[nodes.ns1]
routes = ["10.0.0.0/8 via 192.168.9.1"]

[[links]]
endpoints = [
    { iface = "ns1:veth-ns1", addresses = ["192.168.1.1/24"] },
    { iface = "ns2:veth-ns2", addresses = ["192.168.1.2/24"] },
]
"#)]
fn several_errors(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
