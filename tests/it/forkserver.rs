//! Tests start in children of the fork server when the process runs several (as
//! `cargo test` does), and in a re-executed test binary otherwise. Either way the body
//! sees what a re-executed child would: the runner's environment and working
//! directory (checked by the victims, in every mode), and a thread named after the
//! test.

use std::process::Command;

use netns_test::{Net, netns_test};

#[netns_test(topology = "../fixtures/s1.toml")]
fn the_body_runs_on_a_thread_named_after_the_test(_net: &Net) {
    assert_eq!(
        std::thread::current().name(),
        Some("forkserver::the_body_runs_on_a_thread_named_after_the_test")
    );
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
        net.node("ns1").ping("192.168.1.2").unwrap();
    }

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by the fork server checks"]
    fn second(net: &Net) {
        sees_the_runners_environment(net);
        net.node("ns2").ping("192.168.1.1").unwrap();
    }
}

/// Runs both victims in one process with `env` set, from a directory of its own, and
/// returns how each test's child was started, as `NETNS_TEST_TIMING` reports it.
fn starts(env: &[(&str, &str)]) -> Vec<String> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("netns-test-it-cwd-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .current_dir(&dir)
        .env("NETNS_TEST_IT_CWD", &dir)
        .args([
            "forkserver::victims::",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NETNS_TEST_TIMING", "1")
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("NETNS_TEST_FORK_SERVER")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir(&dir);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text.lines()
        .filter_map(|l| l.strip_prefix("netns-test timing: child started "))
        .map(|l| l.split(" in ").next().unwrap_or_default().to_owned())
        .collect()
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

#[test]
fn nextest_process_per_test_mode_re_executes() {
    assert_eq!(
        starts(&[("NEXTEST_EXECUTION_MODE", "process-per-test")]),
        ["re-executed", "re-executed"]
    );
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
fn without_user_namespaces_both_ways_say_what_to_fix() {
    for env in [&[][..], &[("NETNS_TEST_FORK_SERVER", "0")][..]] {
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
