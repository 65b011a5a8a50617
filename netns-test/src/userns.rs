//! Why user namespaces could not be created, and the exact fix.
//!
//! The diagnosis is a pure function of a few `/proc` files and the failing step, so it
//! is unit-tested against sample contents of those files.

use std::io;

use crate::ns::spawn::Stage;

/// What the relevant `/proc` files said (`None`: absent or unreadable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcFacts {
    /// `/proc/sys/user/max_user_namespaces`.
    pub(crate) max_user_namespaces: Option<String>,
    /// `/proc/sys/kernel/apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+).
    pub(crate) apparmor_restrict: Option<String>,
    /// `/proc/sys/kernel/unprivileged_userns_clone` (older Debian kernels).
    pub(crate) unprivileged_userns_clone: Option<String>,
    /// The `Seccomp:` line's value in `/proc/self/status` (0 none, 1 strict, 2 filter).
    pub(crate) seccomp: Option<String>,
    /// The effective uid.
    pub(crate) euid: u32,
}

impl ProcFacts {
    /// Reads the facts from this machine.
    pub(crate) fn read() -> ProcFacts {
        let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
        let seccomp = read("/proc/self/status").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Seccomp:"))
                .map(|v| v.trim().to_owned())
        });
        ProcFacts {
            max_user_namespaces: read("/proc/sys/user/max_user_namespaces"),
            apparmor_restrict: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            unprivileged_userns_clone: read("/proc/sys/kernel/unprivileged_userns_clone"),
            seccomp,
            euid: nix::unistd::geteuid().as_raw(),
        }
    }
}

/// Names the cause of a failure to enter the test's namespaces and the fix.
pub(crate) fn diagnose(facts: &ProcFacts, stage: Option<Stage>, err: &io::Error) -> String {
    let errno = err.raw_os_error().unwrap_or(0);
    let is = |v: &Option<String>, want: &str| v.as_deref() == Some(want);
    if is(&facts.max_user_namespaces, "0") {
        return "user namespaces are disabled: /proc/sys/user/max_user_namespaces is 0. \
                Fix: `sudo sysctl -w user.max_user_namespaces=15000`"
            .into();
    }
    if facts.euid != 0 && is(&facts.unprivileged_userns_clone, "0") {
        return "unprivileged user namespaces are disabled: \
                /proc/sys/kernel/unprivileged_userns_clone is 0. \
                Fix: `sudo sysctl -w kernel.unprivileged_userns_clone=1`, or run as root"
            .into();
    }
    if facts.euid != 0 && is(&facts.apparmor_restrict, "1") && errno == libc::EPERM {
        return "AppArmor restricts unprivileged user namespaces \
                (kernel.apparmor_restrict_unprivileged_userns = 1, the default on Ubuntu \
                23.10+ and GitHub's ubuntu-24.04 runners). Fix: \
                `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or run \
                as root"
            .into();
    }
    if errno == libc::ENOSPC {
        return "the limit on user namespaces is reached \
                (/proc/sys/user/max_user_namespaces, or too many alive). Fix: end stray \
                test processes or `sudo sysctl -w user.max_user_namespaces=15000`"
            .into();
    }
    if stage == Some(Stage::UnshareUser)
        && (errno == libc::EPERM || errno == libc::ENOSYS)
        && facts.seccomp.as_deref().is_some_and(|s| s != "0")
    {
        return "a seccomp filter (typically a container runtime's default profile) \
                blocks unshare(CLONE_NEWUSER). Fix: run the container with \
                `--security-opt seccomp=unconfined` (Docker/Podman) or a profile that \
                allows unshare, or run the tests outside the container"
            .into();
    }
    if errno == libc::EINVAL && stage == Some(Stage::UnshareUser) {
        return "unshare(CLONE_NEWUSER) was refused with EINVAL: the kernel was built \
                without CONFIG_USER_NS, or the process is multi-threaded or chrooted. \
                Fix: use a kernel with CONFIG_USER_NS=y"
            .into();
    }
    if stage == Some(Stage::IdMap) && errno == libc::EPERM {
        return "the new user namespace has no capabilities (writing uid_map was refused): \
                an AppArmor or LSM policy restricts unprivileged user namespaces. Fix: \
                `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or run \
                as root"
            .into();
    }
    let step = match stage {
        Some(Stage::UnshareUser) => "unshare(CLONE_NEWUSER)",
        Some(Stage::IdMap) => "writing /proc/self/uid_map",
        Some(Stage::UnshareOthers) => "unshare of the network, mount and PID namespaces",
        Some(Stage::MountPrivate) => "making / a private mount",
        Some(Stage::Fork) => "fork",
        None => "starting the test's child process",
    };
    format!(
        "{step} failed ({err}). Run `netns-test doctor` or check \
         /proc/sys/user/max_user_namespaces and your container's security profile"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ProcFacts {
        ProcFacts {
            max_user_namespaces: Some("63704".into()),
            apparmor_restrict: None,
            unprivileged_userns_clone: None,
            seccomp: Some("0".into()),
            euid: 1000,
        }
    }

    fn err(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn max_user_namespaces_zero() {
        let f = ProcFacts {
            max_user_namespaces: Some("0".into()),
            ..facts()
        };
        let msg = diagnose(&f, Some(Stage::UnshareUser), &err(libc::ENOSPC));
        assert!(msg.contains("max_user_namespaces is 0"), "{msg}");
        assert!(msg.contains("sysctl -w user.max_user_namespaces="), "{msg}");
    }

    #[test]
    fn ubuntu_apparmor_restriction_on_unshare() {
        let f = ProcFacts {
            apparmor_restrict: Some("1".into()),
            ..facts()
        };
        let msg = diagnose(&f, Some(Stage::UnshareUser), &err(libc::EPERM));
        assert!(
            msg.contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
            "{msg}"
        );
    }

    #[test]
    fn apparmor_restriction_showing_as_refused_uid_map() {
        let f = ProcFacts {
            apparmor_restrict: Some("1".into()),
            ..facts()
        };
        let msg = diagnose(&f, Some(Stage::IdMap), &err(libc::EPERM));
        assert!(
            msg.contains("apparmor_restrict_unprivileged_userns=0"),
            "{msg}"
        );
        let without = diagnose(&facts(), Some(Stage::IdMap), &err(libc::EPERM));
        assert!(without.contains("no capabilities"), "{without}");
    }

    #[test]
    fn root_is_not_blamed_on_apparmor() {
        let f = ProcFacts {
            apparmor_restrict: Some("1".into()),
            euid: 0,
            ..facts()
        };
        let msg = diagnose(&f, Some(Stage::UnshareUser), &err(libc::EPERM));
        assert!(!msg.contains("AppArmor restricts"), "{msg}");
    }

    #[test]
    fn debian_sysctl() {
        let f = ProcFacts {
            unprivileged_userns_clone: Some("0".into()),
            ..facts()
        };
        let msg = diagnose(&f, Some(Stage::UnshareUser), &err(libc::EPERM));
        assert!(msg.contains("kernel.unprivileged_userns_clone=1"), "{msg}");
    }

    #[test]
    fn container_seccomp_profile() {
        let f = ProcFacts {
            seccomp: Some("2".into()),
            ..facts()
        };
        let msg = diagnose(&f, Some(Stage::UnshareUser), &err(libc::EPERM));
        assert!(msg.contains("seccomp=unconfined"), "{msg}");
    }

    #[test]
    fn unknown_causes_still_name_the_step_and_errno() {
        let msg = diagnose(&facts(), Some(Stage::MountPrivate), &err(libc::EACCES));
        assert!(msg.contains("making / a private mount"), "{msg}");
        assert!(msg.contains("Permission denied"), "{msg}");
    }

    #[test]
    fn reads_this_machine_without_failing() {
        let f = ProcFacts::read();
        assert_eq!(f.euid, nix::unistd::geteuid().as_raw());
        assert!(
            f.seccomp.is_some(),
            "every Linux since 3.8 has a Seccomp: line"
        );
    }
}
