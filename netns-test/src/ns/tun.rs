//! tun and tap devices: `/dev/net/tun` and its `TUNSETIFINDEX` and `TUNSETIFF`
//! ioctls (<https://docs.kernel.org/networking/tuntap.html>).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

/// `struct ifreq` as `TUNSETIFF` reads it: the name, then the flags (a short) at the
/// start of a 24-byte union.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

/// Creates a tun (`tap == false`, IP packets) or tap (Ethernet frames) device called
/// `name` with interface index `index`, in the network namespace of the calling
/// thread, and returns the file descriptor that is its far end. Frames come without
/// the packet information header (`IFF_NO_PI`). The device goes when the descriptor is
/// closed (it is not persistent).
pub(crate) fn create(name: &str, index: u32, tap: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    if name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _rest: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    let kind = if tap { libc::IFF_TAP } else { libc::IFF_TUN };
    // Both constants fit a short (0x0001, 0x0002, 0x1000).
    req.flags = (kind | libc::IFF_NO_PI) as libc::c_short;
    let index: libc::c_uint = index;
    // SAFETY: TUNSETIFINDEX reads one unsigned int from the pointer, which points to a
    // live local; the descriptor is open for the duration of the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFINDEX, &index) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq` lays out (40
    // bytes: name and union); the pointer is to a live local.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}
