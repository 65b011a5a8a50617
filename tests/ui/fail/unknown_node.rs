use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/unknown_node.toml")]
fn unknown_node(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
