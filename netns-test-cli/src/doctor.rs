//! `netns-test doctor`: what this machine supports. First user namespaces (everything
//! rests on them: if they are blocked, the table says by what and how to fix it), then,
//! from inside a throwaway namespace, each link kind, qdisc, nftables and AF_PACKET,
//! found by trying (see `netns_test::probe`). Exits 1 when user namespaces are blocked.

use netns_test::probe::{self, Status};

/// The sysctls that decide whether unprivileged user namespaces work.
const SYSCTLS: &[(&str, &str)] = &[
    (
        "user.max_user_namespaces",
        "/proc/sys/user/max_user_namespaces",
    ),
    (
        "kernel.apparmor_restrict_unprivileged_userns",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ),
    (
        "kernel.unprivileged_userns_clone",
        "/proc/sys/kernel/unprivileged_userns_clone",
    ),
];

pub(crate) fn doctor() -> u8 {
    let facts: Vec<(&str, Option<String>)> = SYSCTLS
        .iter()
        .map(|(name, path)| {
            let v = std::fs::read_to_string(path).ok();
            (*name, v.map(|s| s.trim().to_owned()))
        })
        .collect();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
    // Read before isolating: afterwards /proc shows the new namespaces.
    let isolated = netns_test::isolate();
    outln!("netns-test doctor (kernel {kernel})");
    outln!();
    outln!("{:<10} {:<16} {:<9} DETAIL", "AREA", "FEATURE", "STATUS");
    let status = match &isolated {
        Ok(()) => {
            let detail = facts
                .iter()
                .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n}={v}")))
                .collect::<Vec<_>>()
                .join(", ");
            row("userns", "user namespaces", "ok", &detail);
            0
        }
        Err(e) => {
            let cause = match e {
                netns_test::Error::UserNamespaces { cause, .. } => cause.clone(),
                other => other.to_string(),
            };
            row("userns", "user namespaces", "BLOCKED", &cause);
            1
        }
    };
    let mut missing = Vec::new();
    for p in probe::probe_all() {
        let (word, detail) = match &p.status {
            Status::Available => ("ok", p.config.to_owned()),
            Status::Missing { detail } => {
                missing.push(p.config);
                ("MISSING", format!("{} ({detail})", p.config))
            }
            Status::Unknown { detail } => ("unknown", format!("{} ({detail})", p.config)),
            _ => ("unknown", p.config.to_owned()),
        };
        row(&p.kind.to_string(), p.name, word, &detail);
    }
    outln!();
    if status != 0 {
        outln!(
            "User namespaces are blocked: netns-test cannot build anything until that is fixed (see above)."
        );
    } else if missing.is_empty() {
        outln!("Everything netns-test can use is available.");
    } else {
        outln!(
            "Topologies that use the missing features fail before building, naming the option. \
             To get them: a kernel with {} (or their modules loaded).",
            missing.join(", ")
        );
    }
    status
}

fn row(area: &str, feature: &str, status: &str, detail: &str) {
    outln!("{area:<10} {feature:<16} {status:<9} {detail}");
}
