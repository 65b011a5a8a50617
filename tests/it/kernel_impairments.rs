//! netem impairments, which some kernels lack (this machine's among them): where the
//! kernel has netem, the behaviour within bounds (an RTT at least the delay, a loss
//! rate within bounds over 400 packets, every packet twice, a rate limit under a
//! delay); where it does not, one message naming it before anything is built, and the
//! same from a change at run time.

use std::time::Duration;

use netns_test::topology::Impairment;
use netns_test::{Net, netns_test};

use crate::kernel_devices::{check, kernel_config};
use crate::support::{datagrams, transfer};

/// Between datagrams: stays under netem's queue limit.
const PACE: Duration = Duration::from_micros(100);

mod victims {
    use super::*;

    #[netns_test(topology = "../fixtures/kernel/s8-netem.toml")]
    #[ignore = "run by kernel_impairments::netem_delays_loses_and_duplicates"]
    fn netem(net: &Net) {
        for _ in 0..3 {
            let r = net.node("a").ping("10.0.1.2").unwrap();
            assert!(
                r.rtt >= Duration::from_millis(45),
                "rtt {:?} under the 50 ms delay (jitter 5 ms)",
                r.rtt
            );
        }
        // Resolve d's address first: an ARP request lost to the 30% would otherwise
        // hold the datagrams back for the kernel's one-second retry.
        let quick = netns_test::PingOptions::default().timeout(Duration::from_millis(300));
        assert!(
            (0..20).any(|_| net.node("c").ping_with("10.0.2.2", quick).is_ok()),
            "c never reached d through 30% loss"
        );
        let got = datagrams(net, "c", ("d", "10.0.2.2"), 400, PACE);
        assert!((200..=360).contains(&got), "30% loss: {got} of 400 arrived");
        let got = datagrams(net, "e", ("f", "10.0.3.2"), 100, PACE);
        assert_eq!(got, 200, "every datagram twice");
        let r = net.node("g").ping("10.0.4.2").unwrap();
        assert!(r.rtt >= Duration::from_millis(10), "rtt {:?}", r.rtt);
        let took = transfer(net, "g", ("h", "10.0.4.2"), 1_000_000);
        assert!(
            took >= Duration::from_millis(900),
            "1 MB at 8 mbit/s took {took:?}"
        );
        println!("netem delays, loses, duplicates and rate-limits");
    }
}

#[test]
fn netem_delays_loses_and_duplicates() {
    check(
        "kernel_impairments::victims::netem",
        &[("qdisc", "netem", "CONFIG_NET_SCH_NETEM")],
        "netem delays, loses, duplicates and rate-limits",
    );
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn a_delay_added_at_run_time_shows_in_the_rtt(net: &Net) {
    let slow = Impairment {
        delay: Some(Duration::from_millis(100)),
        ..Impairment::default()
    };
    match net.node("ns1").set_impairment("veth-ns1", &slow) {
        Ok(()) => {
            let r = net.node("ns1").ping("192.168.1.2").unwrap();
            assert!(r.rtt >= Duration::from_millis(100), "rtt {:?}", r.rtt);
            net.node("ns1")
                .set_impairment("veth-ns1", &Impairment::default())
                .unwrap();
            net.node("ns1").ping("192.168.1.2").unwrap();
            if let Some(has) = kernel_config("CONFIG_NET_SCH_NETEM") {
                assert!(has, "netem worked on a kernel configured without it");
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("the `netem` qdisc") && text.contains("CONFIG_NET_SCH_NETEM"),
                "{text}"
            );
            // Said as a run-time call's failure, not as the build's.
            assert!(
                text.starts_with("in node `ns1`: cannot impair `veth-ns1`")
                    && !text.contains("not built")
                    && text.contains("mode = \"userspace\""),
                "{text}"
            );
            assert_eq!(e.io_kind(), Some(std::io::ErrorKind::Unsupported));
            if let Some(has) = kernel_config("CONFIG_NET_SCH_NETEM") {
                assert!(!has, "kernel config and harness disagree: {text}");
            }
            // The link is left as it was.
            assert_eq!(net.node("ns1").ping("192.168.1.2").unwrap().ttl, 64);
        }
    }
}
