use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
fn no_net() {}

#[netns_test(topology = "ui/topologies/pair.toml")]
async fn async_no_net() -> Result<(), String> {
    Ok(())
}

fn main() {}
