use netns_test::netns_test;

/// Doc comments stay on the test.
#[netns_test(topology = "ui/topologies/pair.toml")]
#[should_panic(expected = "boom")]
#[ignore = "slow"]
#[allow(clippy::needless_return)]
#[cfg(target_os = "linux")]
fn kept(net: &netns_test::Net) {
    let _ = net;
    panic!("boom");
}

fn main() {}
