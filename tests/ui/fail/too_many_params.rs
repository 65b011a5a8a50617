use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
fn two(net: &netns_test::Net, other: &netns_test::Net) {
    let _ = (net, other);
}

#[netns_test(topology = "ui/topologies/pair.toml")]
fn three(net: &netns_test::Net, port: u16, name: &str) {
    let _ = (net, port, name);
}

fn main() {}
