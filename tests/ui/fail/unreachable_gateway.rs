use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/unreachable_gateway.toml")]
fn unreachable_gateway(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
