//! The crate's one error type.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in netns-test, with the context needed to act on it:
/// which node, which interface, what was being done, and the operating system's error.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The topology text is invalid (normally caught at compile time by the macro).
    Topology(netns_test_topology::Error),
    /// User namespaces cannot be created here; the message names the cause and the fix.
    UserNamespaces {
        /// What blocks them, with the exact fix.
        cause: String,
        /// The system call's error.
        source: io::Error,
    },
    /// The running kernel lacks device kinds the topology needs. Found by creating the
    /// first device of every kind before anything else; the test's network is then
    /// discarded, never handed to the body half-built.
    MissingKernelFeatures(Vec<MissingFeature>),
    /// A netlink request failed.
    Netlink {
        /// The node whose namespace the request went to.
        node: String,
        /// The equivalent `ip` command.
        what: String,
        /// The kernel's extended error text, if any.
        detail: Option<String>,
        /// The errno.
        source: io::Error,
    },
    /// A system call or I/O operation failed.
    Io {
        /// The node it concerned, if any.
        node: Option<String>,
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// No node of that name exists in the topology.
    UnknownNode {
        /// The name asked for.
        name: String,
        /// The nodes that exist.
        known: Vec<String>,
    },
    /// No interface of that name exists in the node.
    UnknownInterface {
        /// The node.
        node: String,
        /// The name asked for.
        name: String,
        /// The interfaces the node has now.
        known: Vec<String>,
    },
    /// [`Net::build`](crate::Net::build) was called in a process that has not been
    /// isolated with [`isolate`](crate::isolate): it would have built in the machine's
    /// own network namespace.
    NotIsolated,
    /// A string was not an IP address.
    InvalidAddress {
        /// The text.
        text: String,
    },
    /// No answer in time.
    Timeout {
        /// The node the operation ran in.
        node: String,
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// A router or host answered with an ICMP error (destination unreachable, ...).
    Unreachable {
        /// The node the probe was sent from.
        node: String,
        /// The destination probed.
        dest: IpAddr,
        /// Who sent the ICMP error.
        from: IpAddr,
        /// The ICMP message, decoded ("host unreachable", ...).
        reason: String,
    },
}

/// A kernel feature the topology needs and the running kernel lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFeature {
    /// The feature, e.g. `dummy link kind`.
    pub what: String,
    /// The kernel configuration option that provides it, e.g. `CONFIG_DUMMY`.
    pub config: String,
}

impl Error {
    /// The underlying I/O error, if this error has one: use
    /// [`io::Error::kind`] to tell "Network is unreachable" from "Connection refused".
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::UserNamespaces { source, .. }
            | Error::Netlink { source, .. }
            | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The I/O error kind, if there is an underlying I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.io_error().map(io::Error::kind)
    }

    pub(crate) fn io(node: Option<&str>, what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            node: node.map(str::to_owned),
            what: what.into(),
            source,
        }
    }
}

/// `Operation not supported`, without Rust's ` (os error 95)`.
pub(crate) fn errno_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Topology(e) => write!(f, "invalid topology:\n{e}"),
            Error::UserNamespaces { cause, .. } => {
                write!(f, "cannot create a user namespace for the test: {cause}")
            }
            Error::MissingKernelFeatures(missing) => {
                write!(
                    f,
                    "the running kernel lacks what this topology needs, so its network was not \
                     built:"
                )?;
                for m in missing {
                    write!(f, "\n  - {} ({})", m.what, m.config)?;
                }
                write!(
                    f,
                    "\nUse a kernel built with these options (or load their modules), or \
                     remove these elements from the topology."
                )
            }
            Error::Netlink {
                node,
                what,
                detail,
                source,
            } => {
                write!(f, "in node `{node}`: `{what}` failed: ")?;
                match detail {
                    // "(Invalid argument, os error 22)", not to nest parentheses.
                    Some(d) => match source.raw_os_error() {
                        Some(n) => write!(f, "{d} ({}, os error {n})", errno_text(source)),
                        None => write!(f, "{d} ({source})"),
                    },
                    None => write!(f, "{source}"),
                }
            }
            Error::Io { node, what, source } => {
                if let Some(n) = node {
                    write!(f, "in node `{n}`: ")?;
                }
                f.write_str(what)?;
                // An error made from a kind alone only marks what `what` says.
                if source.raw_os_error().is_some() || source.get_ref().is_some() {
                    write!(f, ": {source}")?;
                }
                Ok(())
            }
            Error::UnknownNode { name, known } => write!(
                f,
                "no node named `{name}` in this topology (nodes: {})",
                known.join(", ")
            ),
            Error::UnknownInterface { node, name, known } => write!(
                f,
                "node `{node}` has no interface `{name}` (it has: {})",
                known.join(", ")
            ),
            Error::NotIsolated => write!(
                f,
                "refusing to build a topology in a process that is not isolated: call \
                 netns_test::isolate() first (nothing may be created in the machine's own \
                 network namespace)"
            ),
            Error::InvalidAddress { text } => write!(
                f,
                "`{text}` is not an IP address (write e.g. `192.168.1.2` or `fd00::2`)"
            ),
            Error::Timeout { node, what, after } => {
                write!(f, "in node `{node}`: {what}: no answer within {after:?}")
            }
            Error::Unreachable {
                node,
                dest,
                from,
                reason,
            } => write!(
                f,
                "in node `{node}`: {dest} is unreachable: {from} says {reason}"
            ),
        }
    }
}

/// The operating system's error is part of the message (the kernel's reason belongs
/// with what failed, and `{e}` alone should show it), so it is not a source as well;
/// [`Error::io_error`] gives it. What caused *it*, if anything, is the source.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Topology(e) => Some(e),
            Error::UserNamespaces { source, .. }
            | Error::Netlink { source, .. }
            | Error::Io { source, .. } => source.source(),
            _ => None,
        }
    }
}

impl From<netns_test_topology::Error> for Error {
    fn from(e: netns_test_topology::Error) -> Self {
        Error::Topology(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_reason_is_part_of_the_message_and_not_a_source_too() {
        let errno = |n| io::Error::from_raw_os_error(n);
        let plain = Error::Netlink {
            node: "ns1".into(),
            what: "ip route del 10.0.0.0/8".into(),
            detail: None,
            source: errno(libc::ESRCH),
        };
        assert_eq!(
            plain.to_string(),
            "in node `ns1`: `ip route del 10.0.0.0/8` failed: No such process (os error 3)"
        );
        let explained = Error::Netlink {
            node: "ns1".into(),
            what: "ip link add vx0 type vxlan".into(),
            detail: Some("Local and remote address must be from the same family".into()),
            source: errno(libc::EINVAL),
        };
        assert_eq!(
            explained.to_string(),
            "in node `ns1`: `ip link add vx0 type vxlan` failed: Local and remote address \
             must be from the same family (Invalid argument, os error 22)"
        );
        let os = Error::io(Some("a"), "opening a raw ICMP socket", errno(libc::EPERM));
        assert_eq!(
            os.to_string(),
            "in node `a`: opening a raw ICMP socket: Operation not permitted (os error 1)"
        );
        // A kind alone only marks what the text says.
        let marked = Error::io(
            None,
            "`x` is not a link",
            io::ErrorKind::InvalidInput.into(),
        );
        assert_eq!(marked.to_string(), "`x` is not a link");
        assert_eq!(marked.io_kind(), Some(io::ErrorKind::InvalidInput));
        for e in [&plain, &explained, &os, &marked] {
            assert!(std::error::Error::source(e).is_none(), "{e}");
            assert!(e.io_error().is_some());
        }
    }
}
