//! The few socket calls packet capture needs that neither `nix` nor `socket2` offers
//! safely: `PACKET_STATISTICS`, taking ownership of descriptors received with
//! `SCM_RIGHTS`; and the copy that keeps captured packets without passing them
//! through the CPU caches ([`copy_uncached`]).
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

/// Copies below this length go through the cache as usual.
const UNCACHED_FROM: usize = 4096;

/// A copy of `src` written around the CPU caches where the CPU can (non-temporal
/// stores on x86-64), for bytes kept but not read again soon: captured packets that
/// only a failing test's trace reads. Written through the caches, a capture of bulk
/// traffic evicts the test's own working set and pays for reading every line it
/// overwrites.
pub(crate) fn copy_uncached(src: &[u8]) -> Box<[u8]> {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= UNCACHED_FROM {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        let mut v: Vec<u8> = Vec::with_capacity(src.len());
        let dst = v.as_mut_ptr();
        // Stores of 16 bytes need 16-byte alignment: the bytes before it are copied
        // plainly (none with the usual allocator, which aligns to 16).
        let head = dst.align_offset(16).min(src.len());
        let body = (src.len() - head) / 16 * 16;
        // SAFETY: `dst` has capacity for src.len() bytes and does not overlap `src`;
        // the three parts [0, head), [head, head + body), [head + body, len) cover it
        // exactly once; `dst + head` is 16-byte aligned, as `_mm_stream_si128` needs,
        // and SSE2 is part of x86-64. `_mm_sfence` orders the streamed stores before
        // anything that follows, such as handing the bytes to another thread.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), dst, head);
            let mut i = head;
            while i < head + body {
                let x = _mm_loadu_si128(src.as_ptr().add(i).cast::<__m128i>());
                _mm_stream_si128(dst.add(i).cast::<__m128i>(), x);
                i += 16;
            }
            std::ptr::copy_nonoverlapping(src.as_ptr().add(i), dst.add(i), src.len() - i);
            _mm_sfence();
            v.set_len(src.len());
        }
        return v.into_boxed_slice();
    }
    src.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    use std::os::fd::AsFd;

    #[test]
    fn an_uncached_copy_is_a_copy() {
        for len in [
            0,
            1,
            15,
            UNCACHED_FROM - 1,
            UNCACHED_FROM,
            UNCACHED_FROM + 7,
            65_536 + 9,
        ] {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            // Also from an unaligned start.
            for from in [0, 1.min(len), 3.min(len)] {
                let copy = copy_uncached(&src[from..]);
                assert!(*copy == src[from..], "length {len} from {from}");
            }
        }
    }

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
