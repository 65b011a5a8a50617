use netns_test::netns_test;

// An absolute path, so that the message (which shows where a relative path resolves
// to) is the same on every machine.
#[netns_test(topology = "/nonexistent/netns-test/topology.toml")]
fn missing_file(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "/")]
fn a_directory(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
