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
        match (step, &outcome) {
            (Step::Link(l), StepOutcome::Passed { .. }) => {
                let end = format!("{}:{}", l.node, l.iface);
                self.ends.retain(|(_, e)| *e != end);
                if l.up && topo.link_with_end(&end).is_some() {
                    self.ends.push((index + 1, end));
                }
            }
            // A link cut again, or back whole: what follows is not the `link` step's.
            (Step::Restore(end) | Step::Cut(end), StepOutcome::Passed { .. }) => {
                let link = topo.link_with_end(end);
                self.ends.retain(|(_, e)| topo.link_with_end(e) != link);
            }
            (Step::Partition(side), StepOutcome::Passed { .. }) => {
                let crosses = |i: usize| {
                    let inside = topo.links[i].ends.iter().filter(|e| side.contains(&e.node));
                    inside.count() == 1
                };
                self.ends
                    .retain(|(_, e)| !topo.link_with_end(e).is_some_and(crosses));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// ns1 - host - ns2, with a step of each fault kind (the steps are only read here).
    const SRC: &str = r#"
[nodes.ns1]
[nodes.ns2]
[[links]]
endpoints = [{ iface = "ns1:a", addresses = "10.0.1.2/24" }, { iface = "host:a", addresses = "10.0.1.1/24" }]
[[links]]
endpoints = [{ iface = "ns2:b", addresses = "10.0.2.2/24" }, { iface = "host:b", addresses = "10.0.2.1/24" }]
[[checks]]
link = { node = "ns1", iface = "a", state = "up" }
[[checks]]
link = { node = "host", iface = "b", state = "up" }
[[checks]]
ping = { from = "ns1", to = "ns2" }
[[checks]]
cut = "host:a"
[[checks]]
partition = ["ns2"]
[[checks]]
heal = true
[[checks]]
restore = "ns2:b"
"#;

    fn passed() -> StepOutcome {
        StepOutcome::Passed {
            observed: "ok".into(),
        }
    }

    fn failed() -> StepOutcome {
        StepOutcome::Failed {
            expected: "a reply".into(),
            observed: "unreachable".into(),
        }
    }

    /// The notes a failed ping gets after the steps numbered (from 0) `before`.
    fn notes_after(before: &[usize]) -> Vec<String> {
        let topo = netns_test_topology::parse(SRC, "t").unwrap();
        let mut r = Relinked::default();
        for &i in before {
            r.note(i, &topo, &topo.checks[i].step, passed());
        }
        match r.note(2, &topo, &topo.checks[2].step, failed()) {
            StepOutcome::Failed { observed, .. } => {
                observed.lines().skip(1).map(str::to_owned).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failure_after_link_up_names_each_end_until_restored_cut_or_healed() {
        let notes = notes_after(&[0, 1]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("note: step 1 set ns1:a up with `link`"));
        assert!(notes[1].contains("`restore = \"host:b\"` puts the link back"));
        // `cut` of either end of ns1's link clears its note; the partition off ns2
        // clears host:b's; `heal` and `restore` clear what they put back.
        assert_eq!(notes_after(&[0, 1, 3]).len(), 1);
        assert_eq!(notes_after(&[0, 1, 3, 4]).len(), 0);
        assert_eq!(notes_after(&[0, 1, 5]).len(), 0);
        assert_eq!(notes_after(&[0, 1, 6]), notes_after(&[0]));
    }
}
