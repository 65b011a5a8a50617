use netns_test::netns_test;

#[netns_test(topolgy = "ui/topologies/pair.toml")]
fn typo(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", time_out = "30s")]
fn near_miss(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
