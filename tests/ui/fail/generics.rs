use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
fn generic<T: Default>(net: &netns_test::Net) {
    let _ = (net, T::default());
}

#[netns_test(topology = "ui/topologies/pair.toml")]
fn impl_trait(net: impl AsRef<netns_test::Net>) {
    let _ = net.as_ref();
}

fn main() {}
