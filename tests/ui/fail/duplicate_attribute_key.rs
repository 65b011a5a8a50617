use netns_test::netns_test;

#[netns_test(
    topology = "ui/topologies/pair.toml",
    topology = "ui/topologies/pair.toml"
)]
fn twice(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
