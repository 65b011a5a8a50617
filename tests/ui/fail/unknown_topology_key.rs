use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/unknown_key.toml")]
fn unknown_topology_key(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
