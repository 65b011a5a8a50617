//! Writing a trace as pcapng (with `pcap-file`): a section header, one Interface
//! Description Block per interface named `node/iface` with nanosecond timestamps, an
//! Enhanced Packet Block per packet with its direction, and per interface an Interface
//! Statistics Block with the packets captured and dropped.

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
use super::store::{Direction, LinkKind};

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
        w.write_pcapng_block(InterfaceStatisticsBlock {
            interface_id: id as u32,
            timestamp: end,
            options: vec![
                InterfaceStatisticsOption::IsbIfRecv(iface.packets),
                InterfaceStatisticsOption::IsbOsDrop(iface.dropped),
                InterfaceStatisticsOption::IsbUsrDeliv(iface.packets - iface.dropped),
            ],
        })
        .map_err(err)?;
    }
    Ok(())
}

fn err(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}
