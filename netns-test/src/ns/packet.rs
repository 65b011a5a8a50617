//! The few socket calls packet capture needs that neither `nix` nor `socket2` offers
//! safely: `PACKET_STATISTICS`, taking ownership of descriptors received with
//! `SCM_RIGHTS`.
//!
//! Architecture Invariant: like the rest of `ns`, every `unsafe` block here carries a
//! `// SAFETY:` comment; callers see only safe functions.

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// The most descriptors one `SCM_RIGHTS` message may carry (`SCM_MAX_FD`).
pub(crate) const MAX_FDS_PER_MESSAGE: usize = 253;

/// An `AF_PACKET`/`SOCK_RAW` socket for every protocol (`ETH_P_ALL`), close-on-exec,
/// in the calling thread's network namespace. Unbound, it sees every interface of that
/// namespace, both directions, interfaces added later included (`packet(7)`).
pub(crate) fn packet_socket_all() -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    let s = socket2::Socket::new(
        socket2::Domain::PACKET,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(i32::from(proto))),
    )?;
    Ok(s.into())
}

/// What `getsockopt(PACKET_STATISTICS)` returns, and resets, on a packet socket:
/// <https://man7.org/linux/man-pages/man7/packet.7.html>
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PacketStats {
    /// Packets the socket received since the last call (delivered or dropped).
    pub(crate) packets: u32,
    /// Packets dropped because the socket's receive buffer was full.
    pub(crate) drops: u32,
}

/// Reads and resets the kernel's counters of a packet socket.
pub(crate) fn packet_statistics(fd: BorrowedFd<'_>) -> io::Result<PacketStats> {
    let mut st = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `st`, a local of exactly that
    // size, and updates `len`; `fd` is open for the borrow's lifetime.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&raw mut st).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(PacketStats {
            packets: st.tp_packets,
            drops: st.tp_drops,
        })
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `data` with `fds` attached (`SCM_RIGHTS`) on a connected Unix socket
/// (`unix(7)`); at most [`MAX_FDS_PER_MESSAGE`] descriptors.
pub(crate) fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let cmsgs = if raw.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    let mut sent = sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(data)],
        &cmsgs,
        MsgFlags::empty(),
        None,
    )?;
    // A stream socket may take the bytes in parts; the descriptors went with the first.
    while sent < data.len() {
        sent += sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(&data[sent..])],
            &[],
            MsgFlags::empty(),
            None,
        )?;
    }
    Ok(())
}

/// Receives bytes into `buf` from a Unix socket, together with any descriptors sent
/// along (made close-on-exec); returns the byte count (0 at end of stream).
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS_PER_MESSAGE]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: the kernel just installed `fd` in our descriptor table for
                // this message; nothing else in the process knows the number yet.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    use std::os::fd::AsFd;

    #[test]
    fn descriptors_travel_with_bytes() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (p, _q) = nix::unistd::pipe().unwrap();
        send_with_fds(a.as_fd(), b"hello", &[p.as_fd(), p.as_fd()]).unwrap();
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(fds.len(), 2);
        drop(a);
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, fds.len()), (0, 0));
    }
}
