//! What a scenario run tells: [`Event`]s while it runs (progress lines) and the final
//! [`Report`]. Both render as text through `Display`, so every front end (the command
//! line, the test harness) prints the same lines.

use std::fmt;
use std::time::Duration;

use netns_test_topology::{Check, Topology};

use super::{StepOutcome, StepResult};
use crate::plural;

/// Something that happened while a scenario ran. `Display` renders the progress text:
/// `Started` prints the step's line without its end, `Finished` completes it, so a slow
/// step shows what it is doing while it runs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The topology is built.
    Built {
        /// The topology.
        topology: &'a Topology,
        /// How long the build took.
        elapsed: Duration,
    },
    /// A step starts.
    Started {
        /// 0-based position.
        index: usize,
        /// How many steps there are.
        total: usize,
        /// The step.
        check: &'a Check,
    },
    /// A step ended (or was not run).
    Finished {
        /// Its result.
        result: &'a StepResult,
        /// How many steps there are.
        total: usize,
        /// The scenario file, for "at FILE:LINE".
        origin: &'a str,
    },
}

/// A duration for humans: `0.4ms`, `12ms`, `1.20s`.
pub(crate) fn elapsed(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

fn step_head(f: &mut fmt::Formatter<'_>, index: usize, total: usize, check: &Check) -> fmt::Result {
    let width = total.to_string().len();
    write!(f, "  [{:>width$}/{total}] {check} ... ", index + 1)
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Built {
                topology,
                elapsed: t,
            } => {
                let nodes = topology.nodes.len().saturating_sub(1);
                writeln!(
                    f,
                    "{}: {nodes} node{} + host, {} link{}, {} bridge{}; built in {}",
                    topology.origin,
                    plural(nodes),
                    topology.links.len(),
                    plural(topology.links.len()),
                    topology.bridges.len(),
                    plural(topology.bridges.len()),
                    elapsed(*t)
                )?;
                if topology.checks.is_empty() {
                    writeln!(
                        f,
                        "  (no [[checks]] in this file: the topology builds, nothing else is checked)"
                    )?;
                }
                Ok(())
            }
            Event::Started {
                index,
                total,
                check,
            } => step_head(f, *index, *total, check),
            Event::Finished {
                result,
                total,
                origin,
            } => match &result.outcome {
                StepOutcome::Passed { .. } => writeln!(f, "ok ({})", elapsed(result.elapsed)),
                StepOutcome::NotRun => {
                    step_head(f, result.index, *total, &result.check)?;
                    writeln!(f, "not run")
                }
                StepOutcome::Failed { expected, observed } => {
                    writeln!(f, "FAILED ({})", elapsed(result.elapsed))?;
                    let (step, line) = (result.index + 1, result.check.line);
                    writeln!(f, "      step {step} at {origin}:{line}")?;
                    failure(f, expected, observed)
                }
            },
        }
    }
}

/// The "expected" and "got" lines of a failed step.
fn failure(f: &mut fmt::Formatter<'_>, expected: &str, observed: &str) -> fmt::Result {
    writeln!(f, "      expected: {expected}")?;
    let mut lines = observed.lines();
    writeln!(f, "      got:      {}", lines.next().unwrap_or(""))?;
    for l in lines {
        writeln!(f, "                {l}")?;
    }
    Ok(())
}

/// The result of a scenario run. `Display` renders a summary: the counts, then each
/// failing step with what was expected and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The scenario file (the topology's origin).
    pub origin: String,
    /// How long building the topology took, when the run built it.
    pub build_time: Option<Duration>,
    /// How long the steps took.
    pub run_time: Duration,
    /// Every step, in order.
    pub steps: Vec<StepResult>,
    /// Where the packet trace was written and its last packets, when a capture ran
    /// and the scenario failed (see [`Options::trace`](super::Options::trace)).
    pub trace: Option<String>,
}

impl Report {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(StepResult::passed)
    }

    /// The failed steps.
    pub fn failures(&self) -> impl Iterator<Item = &StepResult> {
        self.steps
            .iter()
            .filter(|s| matches!(s.outcome, StepOutcome::Failed { .. }))
    }

    /// (passed, failed, not run).
    pub fn counts(&self) -> (usize, usize, usize) {
        let passed = self.steps.iter().filter(|s| s.passed()).count();
        let failed = self.failures().count();
        (passed, failed, self.steps.len() - passed - failed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (passed, failed, not_run) = self.counts();
        let verdict = if failed == 0 { "ok" } else { "FAILED" };
        write!(
            f,
            "{}: {verdict}. {passed} step{} passed, {failed} failed",
            self.origin,
            plural(passed)
        )?;
        if not_run > 0 {
            write!(f, ", {not_run} not run")?;
        }
        let total = self.build_time.unwrap_or_default() + self.run_time;
        write!(f, " ({})", elapsed(total))?;
        for r in self.failures() {
            if let StepOutcome::Failed { expected, observed } = &r.outcome {
                writeln!(f)?;
                let (step, line) = (r.index + 1, r.check.line);
                writeln!(f, "  step {step} at {}:{line}: {}", self.origin, r.check)?;
                let text = FailureText(expected, observed).to_string();
                write!(f, "{}", text.trim_end())?;
            }
        }
        if let Some(t) = &self.trace {
            write!(f, "\n{t}")?;
        }
        Ok(())
    }
}

struct FailureText<'a>(&'a str, &'a str);

impl fmt::Display for FailureText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        failure(f, self.0, self.1)
    }
}
