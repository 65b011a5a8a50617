use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
async fn async_body(net: &netns_test::Net) {
    let _ = net;
    tokio::task::yield_now().await;
}

fn main() {}
