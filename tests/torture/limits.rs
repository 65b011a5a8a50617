//! Resource limits: a topology over the kernel's limit on network namespaces fails with
//! the limit named, and leaves nothing half-built behind.

use std::fmt::Write;
use std::time::{Duration, Instant};

use netns_test::{Net, netns_test};

fn chain(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(s, "[nodes.n{i}]");
    }
    for i in 1..n {
        let _ = writeln!(
            s,
            "[[links]]\nendpoints = [\"n{}:right\", \"n{i}:left\"]",
            i - 1
        );
    }
    s
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn a_topology_over_the_namespace_limit_fails_cleanly(_net: &Net) {
    // The limit is per user namespace: this changes only the test's own.
    std::fs::write("/proc/sys/user/max_net_namespaces", "8").unwrap();
    let big = netns_test::topology::parse(&chain(20), "<chain>").unwrap();
    let err = Net::build(big).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("the limit on network namespaces is reached")
            && text.contains("user.max_net_namespaces = 8"),
        "{text}"
    );
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::StorageFull));
    // Nothing half-built survives the failure: once the kernel has released the
    // namespaces the failed build made (asynchronously), a topology that fits the limit
    // builds. The test's own three namespaces plus four leaves one to spare.
    let start = Instant::now();
    loop {
        let small = netns_test::topology::parse(&chain(4), "<chain>").unwrap();
        match Net::build(small) {
            Ok(net) => {
                assert_eq!(net.nodes().count(), 5);
                break;
            }
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                assert_eq!(e.io_kind(), Some(std::io::ErrorKind::StorageFull), "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("namespaces of the failed build were never released: {e}"),
        }
    }
}
