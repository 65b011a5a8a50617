//! Device kinds the running kernel may lack: the test fails before the body runs, with
//! one message naming every missing kind and its kernel option; where the kernel has
//! the kind, the device is there with its addresses.

use std::process::Command;

use crate::kernel_devices::kernel_config;

mod victims {
    use netns_test::{Net, netns_test};

    #[netns_test(topology = r#"
[nodes.ns1]
[[links]]
endpoints = [{ iface = "ns1:veth0", addresses = "10.0.0.1/24" }, { iface = "host:veth0", addresses = "10.0.0.2/24" }]
[[devices]]
kind = "dummy"
name = "ns1:dummy0"
addresses = "10.255.0.1/32"
"#)]
    #[ignore = "run by kernel::a_missing_device_kind_is_named_with_its_config_option"]
    fn dummy_device(net: &Net) {
        let dummy = net.node("ns1").interface("dummy0").unwrap();
        let addrs: Vec<String> = dummy.addresses.iter().map(|a| a.to_string()).collect();
        assert!(addrs.contains(&"10.255.0.1/32".to_owned()), "{addrs:?}");
        // A dummy interface's address is local to its node.
        assert_eq!(net.node("ns1").ping("10.255.0.1").unwrap().ttl, 64);
        println!("dummy0 is up with its address");
    }
}

#[test]
fn a_missing_device_kind_is_named_with_its_config_option() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "kernel::victims::dummy_device",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let text = crate::support::output_text(&out);
    let lacks_dummy = text.contains("lacks what this topology needs");
    if let Some(has) = kernel_config("CONFIG_DUMMY") {
        assert_eq!(
            lacks_dummy, !has,
            "kernel config and harness disagree:\n{text}"
        );
    }
    if lacks_dummy {
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("the `dummy` link kind (ip link add ... type dummy) (CONFIG_DUMMY)"),
            "{text}"
        );
        assert!(
            !text.contains("CONFIG_VETH"),
            "only missing kinds are named: {text}"
        );
        assert!(
            !text.contains("dummy0 is up"),
            "the body must not run: {text}"
        );
    } else {
        assert!(out.status.success(), "{text}");
        assert!(text.contains("dummy0 is up with its address"), "{text}");
    }
}
