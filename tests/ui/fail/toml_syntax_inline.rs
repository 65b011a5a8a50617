use netns_test::netns_test;

#[netns_test(topology = r#"
[nodes.ns1]
loopback = yes
"#)]
fn toml_syntax_inline(net: &netns_test::Net) {
    let _ = net;
}

fn main() {}
