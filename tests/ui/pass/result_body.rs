use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
fn boxed_error(net: &netns_test::Net) -> Result<(), Box<dyn std::error::Error>> {
    let _ = net;
    let _: u16 = "80".parse()?;
    Ok(())
}

#[netns_test(topology = "ui/topologies/pair.toml")]
async fn async_io_error(net: &netns_test::Net) -> std::io::Result<()> {
    let _ = net;
    Ok(())
}

fn main() {}
