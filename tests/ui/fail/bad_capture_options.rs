use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml", timeout = "soon")]
fn bad_timeout(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", timeout = 30)]
fn timeout_not_a_string(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", capture = "sometimes")]
fn bad_capture(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", snaplen = 10, summary = -1)]
fn bad_numbers(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml", capture_limit = "lots")]
fn bad_limit(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
