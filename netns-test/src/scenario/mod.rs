//! Scenario files: the `[[checks]]` a topology file carries, run against the built
//! network, with a report that says for each step what was expected and what happened.
//!
//! Three ways in:
//! - [`run_checks`] on a [`Net`] you built (after [`isolate`](crate::isolate)), for
//!   your own programs;
//! - [`run_file`], which loads, builds and runs one file, telling you each step as it
//!   starts and ends (the `netns-test run` command prints those [`Event`]s);
//! - `harness_main` (feature `harness`): a test target whose tests are the scenario
//!   files of a directory, one test per file, each in its own throwaway namespaces.
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     netns_test::isolate()?;
//!     let report = netns_test::scenario::run_file(
//!         "fixtures/s4.toml",
//!         &netns_test::scenario::Options::default(),
//!         |e| print!("{e}"),
//!     )?;
//!     println!("{report}");
//!     std::process::exit(if report.passed() { 0 } else { 1 });
//! }
//! ```
//!
//! A failing step stops the scenario (the later steps often depend on it: a fault
//! injected, a listener started); the remaining steps are reported as not run, unless
//! [`Options::keep_going`] is set.

mod command;
mod connect;
#[cfg(feature = "harness")]
mod harness;
mod report;
mod steps;
mod trace;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netns_test_topology::{Check, Step, Topology};

use crate::error::Result;
use crate::net::Net;

#[cfg(feature = "harness")]
pub use harness::harness_main;
pub use report::{Event, Report};

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepOutcome {
    /// As expected; `observed` says what happened (`reply from 192.168.1.2, ttl 64`).
    Passed {
        /// What happened.
        observed: String,
    },
    /// Not as expected.
    Failed {
        /// What the step expected (`reply with ttl 63`).
        expected: String,
        /// What happened instead (`reply from 192.168.2.2 with ttl 64`).
        observed: String,
    },
    /// Not run, because an earlier step failed.
    NotRun,
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepResult {
    /// 0-based position in the scenario.
    pub index: usize,
    /// The step.
    pub check: Check,
    /// How it ended.
    pub outcome: StepOutcome,
    /// How long it took.
    pub elapsed: Duration,
}

impl StepResult {
    /// Whether the step passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, StepOutcome::Passed { .. })
    }
}

/// How to run a scenario.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Run every step even after one failed (default: stop at the first failure).
    pub keep_going: bool,
    /// Capture every packet of the run and write it here as pcapng when a step fails
    /// ([`run_topology`] and [`run_file`] only; default: no capture).
    /// `NETNS_TEST_CAPTURE=never|always` and the other capture variables of
    /// `#[netns_test]` apply.
    pub trace: Option<PathBuf>,
}

impl Options {
    /// Sets [`Options::keep_going`].
    pub fn keep_going(mut self, yes: bool) -> Self {
        self.keep_going = yes;
        self
    }

    /// Sets [`Options::trace`].
    pub fn trace_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(path.into());
        self
    }
}

/// Where a scenario file's trace goes by default:
/// `$NETNS_TEST_ARTIFACTS/scenarios/<file stem>/trace.pcapng`, or the same under
/// `<temp dir>/netns-test` when that variable is unset.
pub fn default_trace_path(scenario: impl AsRef<Path>) -> PathBuf {
    let root = std::env::var_os("NETNS_TEST_ARTIFACTS")
        .filter(|v| !v.is_empty())
        .map_or_else(|| std::env::temp_dir().join("netns-test"), PathBuf::from);
    let stem = scenario
        .as_ref()
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    root.join("scenarios").join(stem).join("trace.pcapng")
}

/// Runs the topology's checks against `net`, in order, and returns the report.
pub fn run_checks(net: &Net) -> Report {
    run_checks_with(net, &Options::default(), |_| {})
}

/// Runs the topology's checks against `net`, calling `on_event` as each step starts and
/// ends (for progress output).
pub fn run_checks_with(net: &Net, opts: &Options, mut on_event: impl FnMut(Event<'_>)) -> Report {
    let checks = &net.topology().checks;
    let total = checks.len();
    let start = Instant::now();
    let mut steps: Vec<StepResult> = Vec::with_capacity(total);
    let mut failed = false;
    let mut relinked = Relinked::default();
    for (index, check) in checks.iter().enumerate() {
        let (outcome, elapsed) = if failed && !opts.keep_going {
            (StepOutcome::NotRun, Duration::ZERO)
        } else {
            on_event(Event::Started {
                index,
                total,
                check,
            });
            let t = Instant::now();
            let outcome = relinked.note(
                index,
                net.topology(),
                &check.step,
                steps::run(net, &check.step),
            );
            (outcome, t.elapsed())
        };
        failed |= matches!(outcome, StepOutcome::Failed { .. });
        let result = StepResult {
            index,
            check: check.clone(),
            outcome,
            elapsed,
        };
        on_event(Event::Finished {
            result: &result,
            total,
            origin: &net.topology().origin,
        });
        steps.push(result);
    }
    Report {
        origin: net.topology().origin.clone(),
        build_time: None,
        run_time: start.elapsed(),
        steps,
        trace: None,
    }
}

/// Link ends that a `link` step brought back up, and not a `restore` or `heal` since:
/// the kernel dropped the routes through them when they went down, which `link` does
/// not put back. A reachability step that fails after one says so, since that is the
/// likely cause.
#[derive(Default)]
struct Relinked {
    /// (step number from 1, `node:iface`)
    ends: Vec<(usize, String)>,
}

impl Relinked {
    /// Follows `step` (number `index` from 0) and its `outcome`, returning the outcome
    /// with a note added if it is a failed reachability step after such a `link`.
    fn note(
        &mut self,
        index: usize,
        topo: &Topology,
        step: &Step,
        outcome: StepOutcome,
    ) -> StepOutcome {
        let link_of = |end: &str| {
            topo.links.iter().position(|l| {
                l.ends
                    .iter()
                    .any(|e| format!("{}:{}", e.node, e.iface) == end)
            })
        };
        match (step, &outcome) {
            (Step::Link(l), StepOutcome::Passed { .. }) => {
                let end = format!("{}:{}", l.node, l.iface);
                self.ends.retain(|(_, e)| *e != end);
                if l.up && link_of(&end).is_some() {
                    self.ends.push((index + 1, end));
                }
            }
            (Step::Restore(end), StepOutcome::Passed { .. }) => {
                let link = link_of(end);
                self.ends.retain(|(_, e)| link_of(e) != link);
            }
            (Step::Heal, StepOutcome::Passed { .. }) => self.ends.clear(),
            (
                Step::Ping(_) | Step::Connect(_) | Step::Path(_),
                StepOutcome::Failed { expected, observed },
            ) if !self.ends.is_empty() => {
                let mut observed = observed.clone();
                for (n, end) in &self.ends {
                    observed.push_str(&format!(
                        "\nnote: step {n} set {end} up with `link`; the routes through it, \
                         which the kernel dropped when it went down, stay dropped: \
                         `restore = \"{end}\"` puts the link back with them"
                    ));
                }
                return StepOutcome::Failed {
                    expected: expected.clone(),
                    observed,
                };
            }
            _ => {}
        }
        outcome
    }
}

/// Loads a scenario file, builds its topology and runs its checks. Call it after
/// [`isolate`](crate::isolate). Errors are the loading and building errors; failing
/// steps are in the [`Report`].
pub fn run_file(
    path: impl AsRef<Path>,
    opts: &Options,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Report> {
    let topology = crate::load(path)?;
    run_topology(topology, opts, &mut on_event)
}

/// Builds `topology` and runs its checks (after [`isolate`](crate::isolate)).
pub fn run_topology(
    topology: Topology,
    opts: &Options,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Report> {
    let t = Instant::now();
    let net = Net::build(topology)?;
    let build_time = t.elapsed();
    on_event(Event::Built {
        topology: net.topology(),
        elapsed: build_time,
    });
    let capture = opts.trace.as_ref().map(|_| trace::start(&net));
    let mut report = run_checks_with(&net, opts, &mut on_event);
    report.build_time = Some(build_time);
    if let (Some(c), Some(path)) = (capture, &opts.trace) {
        report.trace = trace::finish(c, !report.passed(), path);
    }
    Ok(report)
}
