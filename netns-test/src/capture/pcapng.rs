//! Writing a trace as pcapng (with `pcap-file`): a section header, one Interface
//! Description Block per interface named `node/iface` with nanosecond timestamps, an
//! Enhanced Packet Block per packet with its direction, and per interface an Interface
//! Statistics Block with the packets captured and dropped, and a comment that says what
//! the trace lacks: the oldest packets dropped for the memory cap (counted in
//! `isb_osdrop`), and the packets the kernel dropped before they could be read (counted
//! per node, as the capture's socket is).

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

use pcap_file::DataLink;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::interface_statistics::{
    InterfaceStatisticsBlock, InterfaceStatisticsOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};

use super::engine::Trace;
use super::store::{Direction, Iface, LinkKind};

/// Writes `trace` to `path`, replacing any older file atomically (write, then rename).
pub(crate) fn write_file(trace: &Trace, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("pcapng.{}.tmp", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut out = io::BufWriter::new(file);
        write(trace, &mut out)?;
        out.flush()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `trace` as one pcapng section.
pub(crate) fn write<W: Write>(trace: &Trace, out: W) -> io::Result<()> {
    let section = SectionHeaderBlock {
        options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
            concat!("netns-test ", env!("CARGO_PKG_VERSION")),
        ))],
        // Big-endian: pcap-file writes the statistics block's timestamp as one u64,
        // which pcapng defines as the high 32 bits first; in big-endian both agree.
        endianness: pcap_file::Endianness::Big,
        ..Default::default()
    };
    let mut w = PcapNgWriter::with_section_header(out, section).map_err(err)?;
    let store = &trace.store;
    for iface in &store.ifaces {
        let linktype = match iface.link {
            LinkKind::Ethernet => DataLink::ETHERNET,
            LinkKind::RawIp => DataLink::RAW,
        };
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype,
            snaplen: trace.snaplen,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(iface.label())),
                InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                    "interface {} (index {}) of node {}",
                    iface.name, iface.ifindex, iface.node
                ))),
                // Timestamps are in nanoseconds (pcap-file writes them as given).
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })
        .map_err(err)?;
    }
    for p in &store.packets {
        // epb_flags: bits 0-1 direction (1 in, 2 out), bits 2-4 reception type.
        let dir = match p.dir {
            Direction::In => 1,
            Direction::Out => 2,
        };
        let reception = match p.pkttype {
            0 => 1, // PACKET_HOST: unicast
            1 => 3, // PACKET_BROADCAST
            2 => 2, // PACKET_MULTICAST
            3 => 4, // PACKET_OTHERHOST: promiscuous
            _ => 0,
        };
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: p.iface as u32,
            timestamp: p.time,
            original_len: p.len,
            data: Cow::Borrowed(&p.data),
            options: vec![EnhancedPacketOption::Flags(dir | reception << 2)],
        })
        .map_err(err)?;
    }
    let end = store
        .packets
        .back()
        .map(|p| p.time)
        .unwrap_or(trace.start)
        .as_nanos() as u64;
    for (id, iface) in store.ifaces.iter().enumerate() {
        let mut options = vec![
            InterfaceStatisticsOption::IsbIfRecv(iface.packets),
            InterfaceStatisticsOption::IsbOsDrop(iface.dropped),
            InterfaceStatisticsOption::IsbUsrDeliv(iface.packets - iface.dropped),
        ];
        options.extend(
            missing(trace, iface).map(|c| InterfaceStatisticsOption::Comment(Cow::Owned(c))),
        );
        w.write_pcapng_block(InterfaceStatisticsBlock {
            interface_id: id as u32,
            timestamp: end,
            options,
        })
        .map_err(err)?;
    }
    Ok(())
}

/// What the trace lacks of `iface`'s packets, in words, for its statistics block.
fn missing<'a>(trace: &'a Trace, iface: &'a Iface) -> impl Iterator<Item = String> + 'a {
    let cap = (iface.dropped > 0).then(|| {
        format!(
            "the oldest {} of {} dropped to keep the capture under its memory cap \
             (capture_limit or NETNS_TEST_CAPTURE_LIMIT)",
            super::packets(iface.dropped),
            iface.label()
        )
    });
    let kernel = trace
        .kernel_drops
        .iter()
        .filter(|(node, drops)| *node == iface.node && *drops > 0)
        .map(|(node, drops)| {
            format!(
                "the kernel dropped {} of node {node} (its interfaces together) before \
                 they could be captured; they are not in this trace",
                super::packets(*drops)
            )
        });
    let cut = (iface.cut > 0).then(|| {
        format!(
            "{} of {} {}; capture_limit or NETNS_TEST_CAPTURE_LIMIT)",
            super::packets(iface.cut),
            iface.label(),
            super::cut_for_the_rate(trace.limit)
        )
    });
    cap.into_iter().chain(cut).chain(kernel)
}

fn err(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::store::{Packet, Store};
    use pcap_file::pcapng::{Block, PcapNgReader};
    use std::time::Duration;

    /// Each interface's statistics comments, read back.
    fn comments(bytes: &[u8]) -> Vec<Vec<String>> {
        let mut reader = PcapNgReader::new(bytes).expect("a pcapng section");
        let mut out = Vec::new();
        while let Some(block) = reader.next_block() {
            if let Block::InterfaceStatistics(isb) = block.expect("a valid block") {
                out.push(
                    isb.options
                        .iter()
                        .filter_map(|o| match o {
                            InterfaceStatisticsOption::Comment(c) => Some(c.to_string()),
                            _ => None,
                        })
                        .collect(),
                );
            }
        }
        out
    }

    #[test]
    fn the_statistics_say_what_the_trace_lacks() {
        let mut store = Store::new(2 * (100 + crate::capture::store::OVERHEAD));
        let a = store.add_iface(0, "ns1", 2, "eth0".into(), LinkKind::Ethernet);
        store.add_iface(1, "ns2", 2, "eth0".into(), LinkKind::Ethernet);
        for n in 0..3 {
            store.push(Packet {
                time: Duration::from_nanos(n),
                iface: a,
                dir: Direction::Out,
                pkttype: 4,
                len: 100,
                data: vec![0u8; 100].into(),
            });
        }
        store.mark_cut(a);
        store.mark_cut(a);
        let trace = Trace {
            store,
            start: Duration::ZERO,
            kernel_drops: vec![("ns1".into(), 0), ("ns2".into(), 7)],
            snaplen: 262_144,
            limit: 32 << 20,
            sockets: Vec::new(),
        };
        let mut bytes = Vec::new();
        write(&trace, &mut bytes).expect("written to memory");
        let got = comments(&bytes);
        assert_eq!(got.len(), 2, "one statistics block per interface");
        assert_eq!(
            got[0],
            [
                "the oldest 1 packet of ns1/eth0 dropped to keep the capture under its memory \
              cap (capture_limit or NETNS_TEST_CAPTURE_LIMIT)",
                "2 packets of ns1/eth0 kept cut to their first 256 bytes: the traffic ran \
              faster than the capture keeps whole packets (32 MiB a second, and bursts of as \
              much: the memory cap's worth; capture_limit or NETNS_TEST_CAPTURE_LIMIT)"
            ]
        );
        assert_eq!(
            got[1],
            [
                "the kernel dropped 7 packets of node ns2 (its interfaces together) before \
              they could be captured; they are not in this trace"
            ]
        );
    }
}
