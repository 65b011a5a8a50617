//! What `#[netns_test]` does at compile time: trybuild UI tests (`tests/ui/`), and a
//! check that every accepted form of test function type-checks as a test.
//!
//! - `ui/fail/*.rs` must fail to compile with exactly the checked-in `.stderr`.
//! - `ui/pass/*.rs` must compile (and their empty `main` must run). trybuild builds
//!   cases without `--test`, so rustc drops test functions before type checking
//!   them: a pass case proves the attribute accepts the function, and the
//!   [`expansion`] module below proves the expansion type-checks.
//! - `ui/topologies/` holds the topology files the cases name.
//!
//! After changing a message, regenerate the `.stderr` files and read every one:
//! `TRYBUILD=overwrite cargo test -p netns-test-it --test it ui`.

use std::path::{Path, PathBuf};

#[test]
fn ui() {
    mirror_topologies();
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}

/// Makes `"ui/topologies/x.toml"` resolve in the UI cases as it would in this crate.
///
/// `#[netns_test]` resolves a relative topology path against `CARGO_MANIFEST_DIR`,
/// but trybuild compiles the cases as a generated crate whose manifest is
/// `<target dir>/tests/trybuild/<this crate's name>/Cargo.toml` (see trybuild's
/// `Runner::prepare`), so that is what `CARGO_MANIFEST_DIR` is there. A symlink
/// `ui/topologies` in that directory, pointing at ours, lets the cases write paths
/// exactly as a user of this crate would, whatever the target directory is.
fn mirror_topologies() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Cargo sets CARGO_TARGET_TMPDIR to `<target dir>/tmp` for integration tests.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory");
    let project_dir: PathBuf = [
        target_dir,
        Path::new("tests/trybuild"),
        Path::new(env!("CARGO_PKG_NAME")),
        Path::new("ui"),
    ]
    .iter()
    .collect();
    let link = project_dir.join("topologies");
    let original = manifest_dir.join("ui/topologies");

    std::fs::create_dir_all(&project_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", project_dir.display()));
    if std::fs::read_link(&link).is_ok_and(|current| current == original) {
        return;
    }
    // A stale link (another checkout sharing the target directory) or leftovers.
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&original, &link).unwrap_or_else(|e| {
        panic!(
            "cannot link {} to {}: {e}",
            link.display(),
            original.display()
        )
    });
}

/// Every form the attribute accepts, expanded and run as real tests. trybuild cannot
/// do this part: it builds cases without `--test`, where rustc drops test functions
/// before type checking them.
mod expansion {
    use netns_test::{Net, netns_test};

    #[netns_test(topology = "ui/topologies/pair.toml")]
    fn from_a_file(net: &Net) {
        assert_eq!(net.node("ns1").name(), "ns1");
    }

    #[netns_test(topology = "
        [nodes.a]
    ")]
    fn inline(net: &netns_test::Net) {
        assert_eq!(net.node("a").name(), "a");
    }

    #[netns_test(topology = "ui/topologies/pair.toml")]
    fn any_pattern(_: &Net) {}

    #[netns_test(topology = "ui/topologies/pair.toml")]
    fn zero_params() {}

    #[netns_test(topology = "ui/topologies/pair.toml")]
    async fn async_body(net: &Net) {
        tokio::task::yield_now().await;
        assert_eq!(net.node("ns2").name(), "ns2");
    }

    #[netns_test(topology = "ui/topologies/pair.toml")]
    fn result_ok(_net: &Net) -> Result<(), Box<dyn std::error::Error>> {
        let port: u16 = "80".parse()?;
        assert_eq!(port, 80);
        Ok(())
    }

    #[netns_test(topology = "ui/topologies/pair.toml")]
    #[should_panic(expected = "invalid digit")]
    async fn async_result_err_fails_the_test(_net: &Net) -> Result<(), std::num::ParseIntError> {
        tokio::task::yield_now().await;
        "eighty".parse::<u16>()?;
        Ok(())
    }

    #[netns_test(topology = "ui/topologies/pair.toml")]
    #[should_panic(expected = "boom")]
    fn should_panic_is_kept(_net: &Net) {
        panic!("boom");
    }

    #[netns_test(topology = "ui/topologies/pair.toml")]
    #[ignore = "proves `#[ignore]` is kept: this body would fail"]
    fn ignore_is_kept() {
        panic!("an ignored test ran");
    }

    /// The runtime finds the test by `module_path!()` and name, as libtest names it.
    #[netns_test(topology = "ui/topologies/pair.toml")]
    fn r#loop() {}
}
