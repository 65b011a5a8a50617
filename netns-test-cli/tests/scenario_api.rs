//! The scenario runner as a library (`netns_test::scenario`), inside `#[netns_test]`
//! tests: reports say which step failed, what it expected and what happened; later
//! steps are not run unless asked; progress events render the CLI's lines. And the
//! kernel probe (`netns_test::probe`) from inside a test's namespaces.

use netns_test::scenario::{Event, Options, StepOutcome, run_checks, run_checks_with};
use netns_test::{Net, netns_test};

#[netns_test(topology = "../fixtures/s4.toml")]
fn a_seed_fixture_passes_its_own_checks(net: &Net) {
    let report = run_checks(net);
    assert!(report.passed(), "{report}");
    assert_eq!(report.counts(), (7, 0, 0));
    assert!(
        report
            .steps
            .iter()
            .all(|s| matches!(s.outcome, StepOutcome::Passed { .. }))
    );
    let StepOutcome::Passed { observed } = &report.steps[0].outcome else {
        unreachable!()
    };
    assert_eq!(observed, "reply from 192.168.2.2, ttl 63");
}

#[netns_test(topology = "tests/data/steps.toml")]
fn failures_say_what_was_expected_and_what_happened(net: &Net) {
    let report = run_checks(net);
    assert!(!report.passed());
    assert_eq!(report.counts(), (1, 1, 2), "{report}");
    let failed: Vec<_> = report.failures().collect();
    assert_eq!(failed[0].index, 1);
    assert_eq!(failed[0].check.line, 12);
    assert_eq!(
        failed[0].outcome,
        StepOutcome::Failed {
            expected: "no answer within 100ms".into(),
            observed: "reply from 192.168.1.2, ttl 64".into(),
        }
    );
    assert_eq!(report.steps[3].outcome, StepOutcome::NotRun);
    let text = report.to_string();
    assert!(
        text.contains(
            "  step 2 at tests/data/steps.toml:12: ping ns1 -> 192.168.1.2: timeout\n      expected: no answer within 100ms\n      got:      reply from 192.168.1.2, ttl 64"
        ),
        "{text}"
    );
}

#[netns_test(topology = "tests/data/steps.toml")]
fn keep_going_runs_every_step_and_reports_each_failure(net: &Net) {
    let mut lines = String::new();
    let report = run_checks_with(net, &Options::default().keep_going(true), |e| {
        if let Event::Started { .. } | Event::Finished { .. } = e {
            lines.push_str(&e.to_string());
        }
    });
    assert_eq!(report.counts(), (2, 2, 0), "{report}");
    let StepOutcome::Failed { expected, observed } = &report.steps[2].outcome else {
        panic!("{report}")
    };
    assert_eq!(expected, "exit status 0, stdout containing \"hello\"");
    assert_eq!(observed, "exit status 4\nstderr:\noops");
    assert!(report.steps[3].passed(), "no route: unreachable at once");
    assert!(
        lines.contains("  [1/4] connect tcp ns1 -> ns2 (192.168.1.2:9000): refused ... ok ("),
        "{lines}"
    );
    assert!(lines.contains("  [3/4] run in ns2: sh -c echo hello; echo oops >&2; exit 4 (status 0, stdout has \"hello\") ... FAILED ("), "{lines}");
    assert!(
        lines.contains(
            "      got:      exit status 4\n                stderr:\n                oops\n"
        ),
        "{lines}"
    );
}

#[netns_test(topology = "../fixtures/s1.toml")]
fn the_probe_sees_what_every_topology_needs(_net: &Net) {
    use netns_test::probe::{Kind, Status, probe_all};
    let probes = probe_all();
    let status = |name: &str| {
        probes
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.status.clone())
    };
    assert_eq!(status("veth"), Some(Status::Available));
    assert_eq!(status("bridge"), Some(Status::Available));
    assert_eq!(probes.iter().filter(|p| p.kind == Kind::Link).count(), 14);
    assert_eq!(probes.iter().filter(|p| p.kind == Kind::Qdisc).count(), 3);
    for p in &probes {
        assert!(!matches!(p.status, Status::Unknown { .. }), "{p:?}");
    }
}
