use netns_test::netns_test;

#[netns_test]
fn no_arguments(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test()]
fn empty_arguments(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
