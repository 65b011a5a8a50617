use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/pair.toml")]
const unsafe extern "C" fn qualifiers(net: &netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml")]
fn by_mut_ref(net: &mut netns_test::Net) {
    let _ = net;
}

#[netns_test(topology = "ui/topologies/pair.toml")]
fn by_value(net: netns_test::Net) {
    let _ = net;
}

struct S;

impl S {
    #[netns_test(topology = "ui/topologies/pair.toml")]
    fn method(&self) {}
}

#[netns_test(topology = "ui/topologies/pair.toml")]
struct NotAFunction;

fn main() {}
