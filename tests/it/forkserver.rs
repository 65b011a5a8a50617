//! Tests start in children of the fork server when the process runs several (as
//! `cargo test` does), and in a re-executed test binary otherwise. Either way the body
//! sees what a re-executed child would: the runner's environment and working
//! directory as they are when the test starts (checked by the victims, in every mode),
//! and a thread named after the test.

use std::process::Command;

use netns_test::{Net, netns_test};

#[netns_test(topology = "../fixtures/s1.toml")]
fn the_body_runs_on_a_thread_named_after_the_test(_net: &Net) {
    assert_eq!(
        std::thread::current().name(),
        Some("forkserver::the_body_runs_on_a_thread_named_after_the_test")
    );
}

/// The body's `/proc` is its own PID namespace's: it sees the test's processes only
/// (the procfs is mounted before the test is known when the child comes from the fork
/// server, by the child itself otherwise).
#[netns_test(topology = "../fixtures/s1.toml")]
fn proc_shows_the_tests_own_processes(_net: &Net) {
    let me = std::process::id();
    assert_eq!(
        std::fs::read_link("/proc/self").unwrap(),
        std::path::Path::new(&me.to_string())
    );
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The namespace's init and this process.
    assert!(pids.contains(&1) && pids.contains(&me), "{pids:?}");
    assert!(pids.len() <= 3, "{pids:?}");
}

mod victims {
    use netns_test::{Net, netns_test};

    /// The runner's environment and working directory reach the body and the commands
    /// it starts in a node, as `starts` below sets them.
    fn sees_the_runners_environment(net: &Net) {
        let dir = std::env::var("NETNS_TEST_IT_CWD").expect("set by the check");
        assert_eq!(std::env::current_dir().unwrap(), std::path::Path::new(&dir));
        // Nothing of the fork server's own start-up leaks into the test.
        assert!(std::env::var_os("__NETNS_TEST_FORK_SERVER").is_none());
        let out = net
            .node("ns1")
            .command("sh")
            .args(["-c", "echo $NETNS_TEST_IT_CWD; pwd"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{dir}\n{dir}\n")
        );
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the fork server checks"]
    fn first(net: &Net) {
        sees_the_runners_environment(net);
        assert_eq!(std::env::var("NETNS_TEST_IT_EARLY").as_deref(), Ok("early"));
        assert_eq!(std::env::var_os("NETNS_TEST_IT_LATE"), None);
        net.node("ns1").ping("192.168.1.2").unwrap();
    }

    /// Runs between the two (libtest runs tests in the order of their names when
    /// given one thread): the runner's environment changes after the fork server
    /// started with it, and the second test sees it as it is now.
    #[test]
    #[ignore = "run by the fork server checks"]
    fn in_between_the_runner_changes_its_environment() {
        // SAFETY: libtest runs one test at a time here (`--test-threads=1`), and no
        // other thread of the runner reads the environment meanwhile.
        unsafe {
            std::env::remove_var("NETNS_TEST_IT_EARLY");
            std::env::set_var("NETNS_TEST_IT_LATE", "late");
            std::env::set_var("NETNS_TEST_IT_CHANGED", "after");
        }
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the fork server checks"]
    fn second(net: &Net) {
        sees_the_runners_environment(net);
        let var = |k: &str| std::env::var(k).ok();
        if std::env::var_os("NETNS_TEST_IT_IN_BETWEEN").is_some() {
            assert_eq!(var("NETNS_TEST_IT_EARLY"), None);
            assert_eq!(var("NETNS_TEST_IT_LATE").as_deref(), Some("late"));
            assert_eq!(var("NETNS_TEST_IT_CHANGED").as_deref(), Some("after"));
        } else {
            // Alone in its process.
            assert_eq!(var("NETNS_TEST_IT_EARLY").as_deref(), Some("early"));
            assert_eq!(var("NETNS_TEST_IT_LATE"), None);
            assert_eq!(var("NETNS_TEST_IT_CHANGED").as_deref(), Some("before"));
        }
        net.node("ns2").ping("192.168.1.1").unwrap();
    }
}

/// Runs the test binary with `args` and `env` set, from a directory of its own, and
/// returns how each test's child was started, as `NETNS_TEST_TIMING` reports it.
fn run_victims(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let dir = crate::common::Scratch::created("it-cwd");
    let out = Command::new(std::env::current_exe().unwrap())
        .current_dir(dir.path())
        .env("NETNS_TEST_IT_CWD", dir.path())
        .env("NETNS_TEST_IT_EARLY", "early")
        .env("NETNS_TEST_IT_CHANGED", "before")
        .env_remove("NETNS_TEST_IT_LATE")
        .args(args)
        .env("NETNS_TEST_TIMING", "1")
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("NETNS_TEST_FORK_SERVER")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    drop(dir);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text.lines()
        .filter_map(|l| l.strip_prefix("netns-test timing: child started "))
        .map(|l| l.split(" in ").next().unwrap_or_default().to_owned())
        .collect()
}

/// Runs both victims in one process with `env` set, and the runner's change to its
/// environment between them.
fn starts(env: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec![("NETNS_TEST_IT_IN_BETWEEN", "1")];
    all.extend_from_slice(env);
    run_victims(
        &[
            "forkserver::victims::",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ],
        &all,
    )
}

#[test]
fn several_tests_in_one_process_share_a_fork_server() {
    assert_eq!(
        starts(&[]),
        ["from the fork server", "from the fork server"]
    );
}

#[test]
fn the_fork_server_can_be_switched_off() {
    for off in ["0", "off"] {
        assert_eq!(
            starts(&[("NETNS_TEST_FORK_SERVER", off)]),
            ["re-executed", "re-executed"]
        );
    }
}

/// Runs one victim alone in a process, as nextest's process-per-test mode does, and
/// returns how its child was started.
fn start_alone(victim: &str, env: &[(&str, &str)]) -> String {
    let mut all = vec![("NEXTEST_EXECUTION_MODE", "process-per-test")];
    all.extend_from_slice(env);
    let filter = format!("forkserver::victims::{victim}");
    let how = run_victims(&[&filter, "--exact", "--ignored", "--nocapture"], &all);
    assert_eq!(how.len(), 1, "{how:?}");
    how[0].clone()
}

/// A process running one test (nextest's process-per-test mode) has no use for a
/// server: the runner clones the child itself, and the body sees the same as from a
/// server (the victims check it). `NETNS_TEST_FORK_SERVER=0` re-executes instead.
#[test]
fn nextest_process_per_test_mode_clones_from_the_runner() {
    for victim in ["first", "second"] {
        assert_eq!(start_alone(victim, &[]), "cloned by the runner");
        assert_eq!(
            start_alone(victim, &[("NETNS_TEST_FORK_SERVER", "0")]),
            "re-executed"
        );
    }
}

/// Runs the first victim in a user namespace where no further one may be created
/// (`user.max_user_namespaces = 0` there), as on a machine that disabled them.
fn without_user_namespaces(env: &[(&str, &str)]) -> std::process::Output {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c"])
        .arg("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"")
        .arg("sh")
        .arg(std::env::current_exe().unwrap())
        .args([
            "forkserver::victims::first",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("NETNS_TEST_FORK_SERVER")
        .envs(env.iter().copied())
        .output()
        .expect("util-linux's unshare")
}

#[test]
fn without_user_namespaces_every_way_says_what_to_fix() {
    for env in [
        &[][..],
        &[("NETNS_TEST_FORK_SERVER", "0")][..],
        &[("NEXTEST_EXECUTION_MODE", "process-per-test")][..],
    ] {
        let out = without_user_namespaces(env);
        let text = crate::support::output_text(&out);
        assert!(!out.status.success(), "{env:?}: {text}");
        assert!(
            text.contains("user namespaces are disabled: /proc/sys/user/max_user_namespaces is 0"),
            "{env:?}: {text}"
        );
        assert!(
            text.contains("sysctl -w user.max_user_namespaces="),
            "{env:?}: {text}"
        );
    }
}

/// Namespaces the fork server's children make ahead of a test come with `lo` up; a node
/// that wants `lo` down, or sets sysctls (which a fresh namespace gets before `lo`
/// comes up), must still be built as the topology says.
mod spares {
    use netns_test::{Net, netns_test};

    /// The same topology twice in one process: the second test's nodes are offered the
    /// spares sized by the first.
    pub(super) fn loopback_as_the_topology_says(net: &Net) {
        let lo = |node: &str| net.node(node).interface("lo").unwrap();
        for plain in ["plain1", "plain2"] {
            assert!(lo(plain).up, "{plain}: lo should be up");
            net.node(plain).ping("127.0.0.1").unwrap();
        }
        let down = lo("no_lo");
        assert!(!down.up, "no_lo: lo should be down");
        assert!(down.addresses.is_empty(), "no_lo: {:?}", down.addresses);
        assert!(lo("tuned").up, "tuned: lo should be up");
        let rp = net
            .node("tuned")
            .run(|| std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter").unwrap());
        assert_eq!(rp.trim(), "2");
    }

    /// Several runs in one process, each from a child readied for its topology.
    macro_rules! runs {
        ($($name:ident)*) => {$(
            #[netns_test(topology = r#"
                [nodes.plain1]
                [nodes.plain2]
                [nodes.no_lo]
                loopback = false
                [nodes.tuned]
                sysctl = { "net.ipv4.conf.all.rp_filter" = 2 }
            "#)]
            #[ignore = "run by spare_namespaces_keep_the_topologys_loopback_and_sysctls"]
            fn $name(net: &Net) {
                loopback_as_the_topology_says(net);
            }
        )*};
    }
    runs!(run1 run2 run3 run4 run5 run6 run7);
}

#[test]
fn spare_namespaces_keep_the_topologys_loopback_and_sysctls() {
    // Networks not built ahead (else every run would take one).
    let text = through_the_fork_server(
        "forkserver::spares::",
        7,
        &[("NETNS_TEST_BUILD_AHEAD", "0")],
    );
    // Of the five nodes, the three that may take a namespace made ahead did (the host,
    // and the two others: the runner's plan gave the server the topology of every
    // test, the first included).
    assert_eq!(
        text.matches("; 3 namespaces made ahead by the fork server")
            .count(),
        7,
        "{text}"
    );
    assert!(!text.contains("; 4 namespaces made ahead"), "{text}");
    assert!(!text.contains("; 5 namespaces made ahead"), "{text}");
}

/// A warm child of the fork server builds the network of the test the runner expects
/// next before its test is known; a test with that topology takes it and must find it
/// exactly as its topology says. A test with another topology finds a network it must
/// not use.
mod built_ahead {
    use netns_test::{Net, netns_test};

    /// `10.7.0.0/24` between `plain1` and `plain2` (or `10.8.0.0/24` in the other
    /// topology), and `lo` and sysctls as the spares' topology says where it has them.
    fn as_the_topology_says(net: &Net, subnet: u8) {
        // Nothing of a network built ahead for another topology.
        let host: Vec<String> = net
            .host()
            .interfaces()
            .unwrap()
            .into_iter()
            .filter(|i| !i.is_fallback_tunnel())
            .map(|i| i.name)
            .collect();
        assert_eq!(host, ["lo"], "the host's interfaces");
        let a = net.node("plain1").interface("veth-a").unwrap();
        let want: netns_test::topology::IpNet = format!("10.{subnet}.0.1/24").parse().unwrap();
        assert!(a.addresses.contains(&want), "plain1: {:?}", a.addresses);
        assert!(a.up && a.lower_up, "plain1: {a:?}");
        net.node("plain1")
            .ping(format!("10.{subnet}.0.2").as_str())
            .unwrap();
        if net.try_node("no_lo").is_ok() {
            super::spares::loopback_as_the_topology_says(net);
        }
    }

    macro_rules! runs {
        ($($name:ident)*) => {$(
            #[netns_test(topology = r#"
                [nodes.plain1]
                [nodes.plain2]
                [nodes.no_lo]
                loopback = false
                [nodes.tuned]
                sysctl = { "net.ipv4.conf.all.rp_filter" = 2 }
                [[links]]
                endpoints = [
                  { iface = "plain1:veth-a", addresses = "10.7.0.1/24" },
                  { iface = "plain2:veth-b", addresses = "10.7.0.2/24" },
                ]
            "#)]
            #[ignore = "run by networks_built_ahead_are_the_topologys"]
            fn $name(net: &Net) {
                as_the_topology_says(net, 7);
            }
        )*};
    }
    runs!(a1 a2 a3 a4 a5 a6);

    /// After the others (libtest orders by name): the same nodes and interfaces, other
    /// addresses. Its `#[ignore]` comes first, and the macro sees it all the same (the
    /// runner's plan has it, and it is built ahead).
    #[ignore = "run by networks_built_ahead_are_the_topologys"]
    #[netns_test(topology = r#"
        [nodes.plain1]
        [nodes.plain2]
        [[links]]
        endpoints = [
          { iface = "plain1:veth-a", addresses = "10.8.0.1/24" },
          { iface = "plain2:veth-b", addresses = "10.8.0.2/24" },
        ]
    "#)]
    fn b1(net: &Net) {
        as_the_topology_says(net, 8);
    }

    /// Then a topology with an interface in the host (the warm child's own namespace,
    /// which would keep it), three times, and another with the same host interface:
    /// none of them is built ahead, so none finds a `veth0` in its host already.
    macro_rules! hosted {
        ($($name:ident)*) => {$(
            #[netns_test(topology = r#"
                [nodes.a]
                [[links]]
                endpoints = [
                  { iface = "host:veth0", addresses = "10.9.0.1/24" },
                  { iface = "a:eth0", addresses = "10.9.0.2/24" },
                ]
            "#)]
            #[ignore = "run by networks_built_ahead_are_the_topologys"]
            fn $name(net: &Net) {
                net.host().ping("10.9.0.2").unwrap();
            }
        )*};
    }
    hosted!(c1 c2 c3);

    #[netns_test(topology = r#"
        [nodes.a]
        [[links]]
        endpoints = [
          { iface = "host:veth0", addresses = "10.10.0.1/24" },
          { iface = "a:eth0", addresses = "10.10.0.2/24" },
        ]
    "#)]
    #[ignore = "run by networks_built_ahead_are_the_topologys"]
    fn d1(net: &Net) {
        net.host().ping("10.10.0.2").unwrap();
    }

    /// A streak again, then a host that keeps `lo` down: its child brought `lo` up (and,
    /// when the plan is wrong, built another network), and must give the test a new
    /// host namespace all the same.
    macro_rules! streak {
        ($($name:ident)*) => {$(
            #[netns_test(topology = r#"
                [nodes.x]
                [nodes.y]
                [[links]]
                endpoints = ["x:e", "y:e"]
            "#)]
            #[ignore = "run by networks_built_ahead_are_the_topologys"]
            fn $name(net: &Net) {
                assert!(net.host().interface("lo").unwrap().up);
            }
        )*};
    }
    streak!(e1 e2 e3 e4);

    #[netns_test(topology = r#"
        [nodes.host]
        loopback = false
        [nodes.x]
        [nodes.y]
        [[links]]
        endpoints = ["x:e", "y:e"]
    "#)]
    #[ignore = "run by networks_built_ahead_are_the_topologys"]
    fn f1(net: &Net) {
        let lo = net.host().interface("lo").unwrap();
        assert!(!lo.up && lo.addresses.is_empty(), "host lo: {lo:?}");
    }
}

#[test]
fn networks_built_ahead_are_the_topologys() {
    let built_ahead = |text: &str| {
        let ahead = text
            .matches("network built ahead by the fork server\n")
            .count();
        let another = text
            .matches("was another topology's; building this one")
            .count();
        (ahead, another)
    };
    let parsed_ahead = |text: &str| {
        text.matches("topology parsed ahead by the fork server")
            .count()
    };
    let run = |env: &[(&str, &str)]| through_the_fork_server("forkserver::built_ahead::", 16, env);
    // A plan naming one test, whatever libtest runs.
    let plan_of = |test: &str| format!("forkserver::built_ahead::{test}\n").repeat(40);

    // The runner tells the server the tests libtest will run, in order: every one that
    // may be built ahead is (a1 to a6, b1, e1 to e4), and no test finds another's
    // network. Not c1 to d1 (an interface in the host) nor f1 (`lo` down in the host).
    let text = run(&[]);
    assert_eq!(built_ahead(&text), (11, 0), "{text}");
    // The others find their topology parsed.
    assert_eq!(parsed_ahead(&text), 5, "{text}");

    // A plan of c1 alone: c1 to c3 (the same text) find c1's topology parsed, and the
    // rest parse their own (d1's host interface has other addresses).
    let text = run(&[("__NETNS_TEST_PLAN", &plan_of("c1"))]);
    assert_eq!(built_ahead(&text), (0, 0), "{text}");
    assert_eq!(parsed_ahead(&text), 3, "{text}");

    // A plan that does not come true: every child builds b1's network, and every test
    // but b1 finds it and builds its own (b1's has the a-tests' nodes and interfaces,
    // with other addresses; f1's host must still keep `lo` down).
    let text = run(&[("__NETNS_TEST_PLAN", &plan_of("b1"))]);
    assert_eq!(built_ahead(&text), (1, 15), "{text}");

    // Switched off, nothing is built ahead.
    let off = run(&[("NETNS_TEST_BUILD_AHEAD", "0")]);
    assert_eq!(built_ahead(&off), (0, 0), "{off}");
    // Not built, but parsed ahead: every one.
    assert_eq!(parsed_ahead(&off), 16, "{off}");
}

/// A warm child brings its own namespace's `lo` up before its test is known, for a
/// host that is plain. A host that keeps `lo` down or sets sysctls gets a namespace of
/// its own instead, and the whole test process is in it: `/proc/net` (which shows the
/// namespace of the process's first thread) lists the host's interfaces.
mod readied_hosts {
    use netns_test::{Net, netns_test};

    fn host_as_the_topology_says(net: &Net, lo_up: bool) {
        let lo = net.host().interface("lo").unwrap();
        assert_eq!(lo.up, lo_up, "host lo: {lo:?}");
        if lo_up {
            net.host().ping("127.0.0.1").unwrap();
        } else {
            assert!(lo.addresses.is_empty(), "host lo: {:?}", lo.addresses);
        }
        let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
        assert!(dev.contains("veth0:"), "/proc/net/dev: {dev}");
        net.host().ping("10.1.1.2").unwrap();
    }

    macro_rules! runs {
        ($($plain:ident $no_lo:ident $tuned:ident)*) => {$(
            #[netns_test(topology = r#"
                [nodes.ns1]
                [[links]]
                endpoints = [
                  { iface = "host:veth0", addresses = "10.1.1.1/24" },
                  { iface = "ns1:eth0", addresses = "10.1.1.2/24" },
                ]
            "#)]
            #[ignore = "run by readied_hosts_keep_the_topologys_host"]
            fn $plain(net: &Net) {
                host_as_the_topology_says(net, true);
            }

            #[netns_test(topology = r#"
                [nodes.host]
                loopback = false
                [nodes.ns1]
                [[links]]
                endpoints = [
                  { iface = "host:veth0", addresses = "10.1.1.1/24" },
                  { iface = "ns1:eth0", addresses = "10.1.1.2/24" },
                ]
            "#)]
            #[ignore = "run by readied_hosts_keep_the_topologys_host"]
            fn $no_lo(net: &Net) {
                host_as_the_topology_says(net, false);
            }

            #[netns_test(topology = r#"
                [nodes.host]
                sysctl = { "net.ipv4.conf.all.rp_filter" = 2 }
                [nodes.ns1]
                [[links]]
                endpoints = [
                  { iface = "host:veth0", addresses = "10.1.1.1/24" },
                  { iface = "ns1:eth0", addresses = "10.1.1.2/24" },
                ]
            "#)]
            #[ignore = "run by readied_hosts_keep_the_topologys_host"]
            fn $tuned(net: &Net) {
                host_as_the_topology_says(net, true);
                let rp = std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter");
                assert_eq!(rp.unwrap().trim(), "2");
            }
        )*};
    }
    runs!(a1_plain a2_no_lo a3_tuned b1_plain b2_no_lo b3_tuned);
}

#[test]
fn readied_hosts_keep_the_topologys_host() {
    through_the_fork_server("forkserver::readied_hosts::", 6, &[]);
}

/// Runs the ignored tests under `filter` one at a time, with `NETNS_TEST_TIMING`, and
/// returns the output once all `tests` of them passed, each in a child of the fork
/// server.
fn through_the_fork_server(filter: &str, tests: usize, env: &[(&str, &str)]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([filter, "--ignored", "--nocapture", "--test-threads=1"])
        .env("NETNS_TEST_TIMING", "1")
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("NETNS_TEST_FORK_SERVER")
        .env_remove("NETNS_TEST_BUILD_AHEAD")
        .env_remove("__NETNS_TEST_PLAN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = crate::support::output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches("child started from the fork server").count(),
        tests,
        "{text}"
    );
    text
}
