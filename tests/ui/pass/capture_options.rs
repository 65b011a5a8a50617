use netns_test::netns_test;

#[netns_test(
    topology = "ui/topologies/pair.toml",
    timeout = "90s",
    capture = "always",
    snaplen = 128,
    capture_limit = "64MiB",
    summary = 50
)]
fn every_option(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", timeout = "none", capture = "never")]
#[should_panic]
fn no_timeout_no_capture(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
