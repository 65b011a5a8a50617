//! The Rust peers, side by side with netns-test in the same run (built with
//! `--features peers`):
//! - gateflow's two namespaces joined by a veth pair with an address at each end,
//!   `Sandbox::paired().enter(..)` with closures that return at once: beside the
//!   two-node test;
//! - patchbay's lab with a router and two devices on it (`Lab::new`, `add_router`,
//!   `add_device`), built and dropped: beside netns-test's three-node chain (a router
//!   between two nodes, with addresses and routes).
//!
//! Each peer runs in a copy of this binary, as an isolated test of ours does: patchbay
//! must enter its user namespace before any thread starts, and gateflow forks the
//! calling process. The copy prints each run's time in nanoseconds.

use std::time::{Duration, Instant};

use crate::stats::{Row, Table};

/// The variable that makes this binary a peer's copy: `PEER:RUNS`.
const PEER_ENV: &str = "NETNS_TEST_BENCH_PEER";

/// A peer's scenario.
#[derive(Clone, Copy)]
enum Peer {
    /// gateflow: two namespaces, one veth pair, an address at each end.
    GateflowPair,
    /// patchbay: a lab, a router and two devices.
    PatchbayRouter,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::GateflowPair => "gateflow",
            Peer::PatchbayRouter => "patchbay",
        }
    }

    fn from_name(name: &str) -> Option<Peer> {
        [Peer::GateflowPair, Peer::PatchbayRouter]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// In a peer's copy (this binary started by [`report`]): makes the runs, prints each
/// one's time in nanoseconds, and exits (status 1 with the error if a run failed).
/// Returns when this is not a peer's copy.
pub(crate) fn child_main() {
    let Ok(spec) = std::env::var(PEER_ENV) else {
        return;
    };
    let (name, runs) = spec.split_once(':').unwrap_or((&spec, "1"));
    let runs: usize = runs.parse().unwrap_or(1);
    let result = match Peer::from_name(name) {
        Some(Peer::GateflowPair) => gateflow_pair(runs),
        Some(Peer::PatchbayRouter) => patchbay_router(runs),
        None => Err(format!("unknown peer '{name}'")),
    };
    match result {
        Ok(times) => {
            for t in times {
                println!("{}", t.as_nanos());
            }
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    }
}

fn gateflow_pair(runs: usize) -> Result<Vec<Duration>, String> {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            match gateflow::Sandbox::paired().enter(|_| 0, |_| 0) {
                Ok((0, 0)) => Ok(t.elapsed()),
                Ok(codes) => Err(format!("Sandbox::paired ended with exit codes {codes:?}")),
                Err(e) => Err(format!("Sandbox::paired failed: {e}")),
            }
        })
        .collect()
}

fn patchbay_router(runs: usize) -> Result<Vec<Duration>, String> {
    // Before any thread: the runtime below starts none, patchbay's labs do.
    patchbay::init_userns().map_err(|e| format!("init_userns failed: {e:#}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    rt.block_on(async {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let lab = patchbay::Lab::new().await.map_err(|e| format!("{e:#}"))?;
            let router = lab
                .add_router("r")
                .build()
                .await
                .map_err(|e| format!("{e:#}"))?;
            for device in ["a", "b"] {
                lab.add_device(device)
                    .iface("eth0", router.id())
                    .build()
                    .await
                    .map_err(|e| format!("{e:#}"))?;
            }
            drop(lab);
            times.push(t.elapsed());
        }
        Ok(times)
    })
}

/// Runs both peers, each beside the netns-test row it compares with (`pair`: the
/// two-node test; `chain3`: the three-node chain), and adds their rows and ratios.
pub(crate) fn report(
    table: &mut Table,
    runs: usize,
    pair: &[Duration],
    chain3: (&[Duration], Duration),
) {
    peer_row(
        table,
        Peer::GateflowPair,
        runs,
        "two nodes, one veth: gateflow (Sandbox::paired, no-op closures)",
        ("gateflow / netns-test, two nodes", pair),
    );
    table.push(
        Row::new(
            "router and two nodes (chain3): netns-test (whole test)",
            chain3.0,
        )
        .cpu(chain3.1),
    );
    // patchbay takes a fifth of a second a lab: fewer runs.
    peer_row(
        table,
        Peer::PatchbayRouter,
        runs.clamp(1, 10),
        "router and two devices: patchbay (Lab, built and dropped)",
        ("patchbay / netns-test, router and two nodes", chain3.0),
    );
}

/// `runs` runs of `peer`: its row labelled `label` and its ratio to `ours`, or a note
/// saying why it could not run here.
fn peer_row(
    table: &mut Table,
    peer: Peer,
    runs: usize,
    label: &str,
    (ratio, ours): (&str, &[Duration]),
) {
    match crate::floor::with_cpu(runs, || run(peer, runs)) {
        (Ok(times), cpu) => {
            table.push(Row::new(label, &times).cpu(cpu));
            table.ratio(ratio, &times, ours);
        }
        (Err(e), _) => table.note(&format!("{}: failed here: {e}", peer.name())),
    }
}

/// `runs` runs of `peer` in a copy of this binary, after one to warm up.
fn run(peer: Peer, runs: usize) -> Result<Vec<Duration>, String> {
    crate::nanos_in_copy(PEER_ENV, &format!("{}:{}", peer.name(), runs + 1))
        .map(|times| times.into_iter().skip(1).collect())
}
