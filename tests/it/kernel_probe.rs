//! The kernel-feature probe (`netns_test::probe`) checked against the running kernel's
//! own build configuration: every feature it calls available is built in or a module
//! (`=y` or `=m`), and every feature it calls missing is not. This runs here, on a
//! kernel that lacks netem, dummy, vlan, gre and more, and in the second-kernel lane
//! (`.ci/vm-lane`, Debian's kernel, which has them all as modules), so the probe is
//! proven against both answers.

use std::process::Command;

use netns_test::probe::{Status, probe_all};
use netns_test::{Net, netns_test};

/// Set by `.ci/vm-lane` in its guest, where it puts the kernel's configuration in
/// `/boot`: there the check must not be skipped for want of a configuration.
const REQUIRE_CONFIG: &str = "NETNS_TEST_REQUIRE_KERNEL_CONFIG";

/// The running kernel's build configuration, from `/proc/config.gz` or, as Debian and
/// Ubuntu install it, `/boot/config-<release>`. `None` if neither is readable.
fn kernel_config() -> Option<(String, String)> {
    if let Ok(out) = Command::new("zcat").arg("/proc/config.gz").output()
        && out.status.success()
    {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        return Some(("/proc/config.gz".to_owned(), text));
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let path = format!("/boot/config-{}", release.trim());
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, text))
}

/// Whether `option` is `y` or `m` in the configuration text.
fn enabled(config: &str, option: &str) -> bool {
    config
        .lines()
        .any(|l| l == format!("{option}=y") || l == format!("{option}=m"))
}

#[netns_test(topology = "[nodes.ns1]")]
fn the_probe_agrees_with_the_kernel_config(_net: &Net) {
    let Some((source, config)) = kernel_config() else {
        assert!(
            std::env::var_os(REQUIRE_CONFIG).is_none(),
            "{REQUIRE_CONFIG} is set but neither /proc/config.gz nor /boot/config-<release> \
             is readable"
        );
        println!("no kernel configuration to compare with: skipped");
        return;
    };
    let mut wrong = Vec::new();
    let mut missing = Vec::new();
    for p in probe_all() {
        let has = enabled(&config, p.config);
        match &p.status {
            Status::Available if has => {}
            Status::Missing { .. } if !has => missing.push(format!("{} ({})", p.name, p.config)),
            // /dev/net/tun is root's, mode 0600 on most machines: an unprivileged uid
            // cannot open it even as root of its own user namespace, so the probe
            // cannot tell.
            Status::Unknown { detail } if p.name == "tun" && detail.contains("denied") => {}
            other => wrong.push(format!(
                "{} {}: probe says {other:?}, {source} says {} is {}",
                p.kind,
                p.name,
                p.config,
                if has { "y or m" } else { "not set" }
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "the probe disagrees with the kernel:\n  {}",
        wrong.join("\n  ")
    );
    println!(
        "probe agrees with {source}; missing here: {}",
        if missing.is_empty() {
            "nothing".to_owned()
        } else {
            missing.join(", ")
        }
    );
}
