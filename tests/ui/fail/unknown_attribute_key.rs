use netns_test::netns_test;

#[netns_test(topolgy = "ui/topologies/pair.toml")]
fn typo(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", timeout = "30s")]
fn not_yet_an_option(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
