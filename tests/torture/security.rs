//! Security: what a failing test writes (its trace) belongs to the user who ran the
//! tests and is not world-writable, and lands only under the artifacts directory.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

mod victims {
    use netns_test::{Net, netns_test};

    #[netns_test(topology = "../fixtures/s1.toml")]
    #[ignore = "run by security::artifacts_belong_to_the_invoking_user"]
    fn fails_after_a_ping(net: &Net) {
        net.node("ns1").ping("192.168.1.2").unwrap();
        panic!("failing on purpose to leave a trace");
    }
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if p.is_dir() {
            walk(&p, out);
        }
    }
}

#[test]
fn a_failing_test_writes_nowhere_but_its_artifacts_directory() {
    // The places a test could plausibly write to: its working directory, HOME and
    // TMPDIR, all empty to start with.
    let scratch = crate::common::Scratch::new("writes");
    let base = scratch.path();
    let (cwd, home, tmp, root) = (
        base.join("cwd"),
        base.join("home"),
        base.join("tmp"),
        base.join("artifacts"),
    );
    for d in [&cwd, &home, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "security::victims::fails_after_a_ping",
            "--exact",
            "--ignored",
        ])
        .current_dir(&cwd)
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env("NETNS_TEST_ARTIFACTS", &root)
        .env_remove("NETNS_TEST_CAPTURE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    for d in [&cwd, &home, &tmp] {
        let mut left = Vec::new();
        walk(d, &mut left);
        assert!(left.is_empty(), "the test wrote {left:?}");
    }
    let mut written = Vec::new();
    walk(&root, &mut written);
    assert!(
        written.iter().any(|p| p.ends_with("trace.pcapng")),
        "{written:?}"
    );
}

#[test]
fn artifacts_belong_to_the_invoking_user() {
    let scratch = crate::common::Scratch::new("security");
    let root = scratch.path();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "security::victims::fails_after_a_ping",
            "--exact",
            "--ignored",
        ])
        .env("NETNS_TEST_ARTIFACTS", root)
        .env_remove("NETNS_TEST_CAPTURE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let mut files = Vec::new();
    walk(root, &mut files);
    let traces: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    assert_eq!(traces.len(), 1, "one trace for the failing test: {files:?}");
    let uid = nix_euid();
    for f in &files {
        let m = std::fs::metadata(f).unwrap();
        assert_eq!(m.uid(), uid, "{} belongs to uid {}", f.display(), m.uid());
        assert_eq!(m.mode() & 0o002, 0, "{} is world-writable", f.display());
    }
}

fn nix_euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}
