//! A test target whose tests are scenario files: `harness_main(dir)` lists every
//! `*.toml` in `dir` as one libtest-mimic test named after the file, and runs each in a
//! child process of its own, in throwaway namespaces, so the usual libtest flags
//! (`--list`, filters, `--exact`, `--test-threads`) and cargo-nextest work.
//!
//! libtest-mimic runs tests on threads, and a multi-threaded process cannot enter a new
//! user namespace; so each test re-executes this binary with an environment variable
//! naming the file, and `harness_main` in that child, still single-threaded, isolates
//! itself, builds the topology, runs the checks and prints the report before
//! libtest-mimic would start. Everything the scenario built disappears with that child.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use libtest_mimic::{Arguments, Failed, Trial};

use super::Options;

/// Marks the child that runs one scenario; the value is the file's path.
const SCENARIO_ENV: &str = "__NETNS_TEST_SCENARIO";

/// The `main` of a scenario test target (`harness = false`): every `*.toml` file in
/// `dir` becomes one test named after the file (without `.toml`), which builds the
/// topology in throwaway namespaces and runs its `[[checks]]`. A file without checks
/// still tests that its topology builds.
///
/// ```toml
/// # Cargo.toml
/// [[test]]
/// name = "scenarios"
/// harness = false
///
/// [dev-dependencies]
/// netns-test = { version = "0.1", features = ["harness"] }
/// ```
///
/// ```no_run
/// // tests/scenarios.rs
/// fn main() {
///     netns_test::scenario::harness_main("scenarios");
/// }
/// ```
///
/// A relative `dir` is relative to the package's directory (where cargo runs tests).
/// A failing test's message is the scenario report: which step, at which line, what
/// was expected and what happened.
#[allow(clippy::needless_doctest_main)] // a harness = false target needs its main
pub fn harness_main(dir: impl AsRef<Path>) -> ! {
    if let Some(path) = std::env::var_os(SCENARIO_ENV) {
        child(Path::new(&path))
    }
    let args = Arguments::from_args();
    let trials = match trials(dir.as_ref(), args.nocapture) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("netns-test: {e}");
            std::process::exit(101)
        }
    };
    libtest_mimic::run(&args, trials).exit()
}

/// One trial per scenario file, sorted by name.
fn trials(dir: &Path, nocapture: bool) -> Result<Vec<Trial>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read the scenario directory {} ({e}); harness_main takes a directory of \
             *.toml scenario files, relative to the package directory",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.toml scenario files in {}", dir.display()));
    }
    Ok(files
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            Trial::test(name, move || run_one(&path, nocapture))
        })
        .collect())
}

/// The parent side: runs the scenario in a child and turns its report into the verdict.
fn run_one(path: &Path, nocapture: bool) -> Result<(), Failed> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this test binary (/proc/self/exe): {e}"))?;
    let out = Command::new(&exe)
        .env(SCENARIO_ENV, path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if nocapture {
        print!("{stdout}");
        eprint!("{stderr}");
    }
    if out.status.success() {
        return Ok(());
    }
    let mut msg = String::new();
    msg.push_str(stdout.trim_end());
    if !stderr.trim().is_empty() {
        if !msg.is_empty() {
            msg.push('\n');
        }
        msg.push_str(stderr.trim_end());
    }
    if msg.is_empty() {
        msg = format!(
            "the scenario's child process ended with {} and said nothing",
            out.status
        );
    }
    Err(msg.into())
}

/// The child side: isolate, build, run, report; exit 0 (passed), 1 (a step failed) or
/// 2 (could not build).
fn child(path: &Path) -> ! {
    if let Err(e) = crate::isolate() {
        eprintln!("netns-test: {e}");
        std::process::exit(2)
    }
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let root = std::env::var_os(crate::capture::settings::ARTIFACTS_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let trace = std::env::current_exe()
        .map(|exe| crate::capture::artifacts::trace_path(&exe, &stem, root.as_deref()))
        .unwrap_or_else(|_| super::default_trace_path(path));
    let mut stdout = std::io::stdout();
    let result = super::run_file(path, &Options::default().trace_to(trace), |e| {
        let _ = write!(stdout, "{e}");
        let _ = stdout.flush();
    });
    let code = match result {
        Ok(report) => {
            let _ = writeln!(std::io::stdout(), "{report}");
            if report.passed() { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!(
                "netns-test: {}: could not build the topology: {e}",
                path.display()
            );
            2
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
