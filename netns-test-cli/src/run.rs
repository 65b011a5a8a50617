//! `netns-test run FILE...`: each file is built and checked in a child process of its
//! own (this binary, `__run-one FILE`), isolated in fresh namespaces, so scenarios never
//! see each other's interfaces. The child prints each step as it starts and ends
//! (progress for slow steps), then the summary; this side adds the overall verdict.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use netns_test::scenario::{self, Options};

/// Exit status of a child whose scenario could not be built.
const SETUP_FAILED: u8 = 2;

pub(crate) fn run(files: &[PathBuf], keep_going: bool) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("netns-test: cannot find this program (/proc/self/exe): {e}");
            return 2;
        }
    };
    let start = Instant::now();
    let (mut passed, mut failed, mut broken) = (Vec::new(), Vec::new(), Vec::new());
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        let _ = std::io::stdout().flush();
        let mut cmd = Command::new(&exe);
        cmd.arg("__run-one").arg(file);
        if keep_going {
            cmd.arg("--keep-going");
        }
        match cmd.status() {
            Ok(s) if s.success() => passed.push(file),
            Ok(s) if s.code() == Some(i32::from(SETUP_FAILED)) => broken.push(file),
            Ok(_) => failed.push(file),
            Err(e) => {
                eprintln!("netns-test: cannot start {}: {e}", exe.display());
                broken.push(file);
            }
        }
    }
    if files.len() > 1 {
        outln!();
        for f in &failed {
            outln!("FAILED: {}", f.display());
        }
        for f in &broken {
            outln!("NOT BUILT: {}", f.display());
        }
        outln!(
            "scenarios: {} passed, {} failed, {} not built ({:.2}s)",
            passed.len(),
            failed.len(),
            broken.len(),
            start.elapsed().as_secs_f64()
        );
    }
    if failed.is_empty() && broken.is_empty() {
        0
    } else {
        1
    }
}

/// The child: isolate, build, run the steps with live progress, print the summary.
pub(crate) fn run_one(file: &Path, keep_going: bool) -> u8 {
    if let Err(e) = netns_test::isolate() {
        eprintln!("netns-test: {e}");
        return SETUP_FAILED;
    }
    let topology = match netns_test::load(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}", crate::error_text(&e));
            return SETUP_FAILED;
        }
    };
    let opts = Options::default()
        .keep_going(keep_going)
        .trace_to(scenario::default_trace_path(file));
    let mut out = std::io::stdout();
    let result = scenario::run_topology(topology, &opts, |e| {
        let _ = write!(out, "{e}");
        let _ = out.flush();
    });
    match result {
        Ok(report) => {
            let _ = writeln!(std::io::stdout(), "{report}");
            if report.passed() { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("{} (building {})", crate::error_text(&e), file.display());
            SETUP_FAILED
        }
    }
}
