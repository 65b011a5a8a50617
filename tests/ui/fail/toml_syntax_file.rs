use netns_test::netns_test;

#[netns_test(topology = "ui/topologies/syntax_error.toml")]
fn toml_syntax_file(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
