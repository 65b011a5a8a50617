//! tun and tap devices whose far end is a file descriptor the test body holds: a
//! userspace program on the other side of the interface.
//!
//! The device is created (`ip tuntap add NAME mode tap`, but not persistent) on a
//! thread standing in the device's node, with the interface index the build chose;
//! the node keeps the descriptor, so the device lives as long as the test's network.
//! [`Node::tap`](crate::Node::tap) hands out duplicates of it.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use netns_test_topology::{Device, DeviceKind};

use crate::build::BuiltNode;
use crate::error::{Error, Result};

/// Whether the device is a tun or tap (made with ioctls, not rtnetlink).
pub(crate) fn is_tuntap(dev: &Device) -> bool {
    matches!(dev.kind, DeviceKind::Tun | DeviceKind::Tap)
}

/// Whether this kernel has tun/tap: `/dev/net/tun` opens only when it does. `Err` is
/// the reason it does not. A permission problem is not a missing feature: see
/// [`check_access`].
pub(crate) fn available() -> std::result::Result<(), String> {
    match open() {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::ENXIO)) => {
            Err(format!("/dev/net/tun: {e}"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("/dev/net/tun does not exist".to_owned())
        }
        Err(_) => Ok(()),
    }
}

fn open() -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
}

/// Fails, saying how to fix it, when the topology has tun/tap devices and this user
/// may not open `/dev/net/tun` (most distributions make it mode 0666; some containers
/// keep it 0600).
pub(crate) fn check_access(topo: &netns_test_topology::Topology) -> Result<()> {
    let user = topo
        .devices
        .iter()
        .find(|d| is_tuntap(d))
        .map(|d| {
            (
                d.node.as_str(),
                format!("the {} device `{}`", d.kind.name(), d.name),
            )
        })
        .or_else(|| {
            topo.links
                .iter()
                .find(|l| l.mode == netns_test_topology::LinkMode::Userspace)
                .map(|l| {
                    let [a, b] = &l.ends;
                    let what = format!(
                        "the userspace link `{}:{} <-> {}:{}`",
                        a.node, a.iface, b.node, b.iface
                    );
                    (a.node.as_str(), what)
                })
        });
    let Some((node, user)) = user else {
        return Ok(());
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata("/dev/net/tun")
                .map(|m| format!("{:o}", m.permissions().mode() & 0o777))
                .unwrap_or_else(|_| "unknown".to_owned());
            Err(Error::io(
                Some(node),
                format!(
                    "{user} needs /dev/net/tun, which this user may not open (mode \
                     {mode}): make it usable by everyone, as most distributions do, with \
                     `sudo chmod 0666 /dev/net/tun`, or run the test as root",
                ),
                e,
            ))
        }
        _ => Ok(()),
    }
}

/// Creates one tun or tap device in `node` with index `index`.
pub(crate) fn create(node: &BuiltNode, dev: &Device, index: u32) -> Result<OwnedFd> {
    make(node, &dev.name, index, dev.kind == DeviceKind::Tap)
}

/// Creates a tap device called `name` in `node` (an end of a userspace link).
pub(crate) fn create_tap(node: &BuiltNode, name: &str, index: u32) -> Result<OwnedFd> {
    make(node, name, index, true)
}

fn make(node: &BuiltNode, name: &str, index: u32, tap: bool) -> Result<OwnedFd> {
    let made: std::io::Result<File> = crate::ns::in_netns(node.netns.as_fd(), || {
        crate::ns::tun::create(name, index, tap)
    });
    made.map(OwnedFd::from).map_err(|e| {
        Error::io(
            Some(&node.name),
            format!(
                "`ip tuntap add {name} mode {}` (opening /dev/net/tun and TUNSETIFF)",
                if tap { "tap" } else { "tun" }
            ),
            e,
        )
    })
}
