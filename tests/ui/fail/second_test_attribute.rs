use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
#[test]
fn plain_test(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml")]
#[tokio::test]
async fn tokio_test(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
