//! Run-time faults for resilience tests: cut and restore a link, partition the network,
//! change a link's impairment.
//!
//! A cut takes both ends of a veth pair administratively down (`ip link set X down` in
//! each node): packets sent over it fail at once ("Network is unreachable" where the
//! route went with it) or are lost, and open connections stall. The kernel drops a
//! downed interface's routes and IPv6 addresses, so a restore brings both ends up, waits
//! until they are operationally up, and puts back the topology's addresses of the two
//! ends and every route of the two nodes (replacing what is still there).

use std::io;
use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netns_test_topology::{Impairment, Link};

use crate::build::LINK_UP_TIMEOUT;
use crate::error::{Error, Result};
use crate::net::{Net, Node};

impl Net {
    fn link_of(&self, end: &str) -> Result<usize> {
        self.topology().link_with_end(end).ok_or_else(|| {
            let links: Vec<String> = self.topology().links.iter().map(link_text).collect();
            Error::io(
                None,
                format!(
                    "`{end}` is not an end of a veth link of this topology; write \"node:iface\" \
                     of one of: {}",
                    if links.is_empty() {
                        "(no links)".to_owned()
                    } else {
                        links.join(", ")
                    }
                ),
                io::Error::from(io::ErrorKind::InvalidInput),
            )
        })
    }

    /// Cuts the veth link one of whose ends is `end` (`"node:iface"`): both ends go
    /// down, as if the cable were pulled. [`Net::restore_link`] or [`Net::heal`] puts
    /// it back.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// net.cut_link("ns1:veth-ns1")?;
    /// assert!(net.node("ns1").ping("192.168.1.2").is_err());
    /// net.restore_link("ns1:veth-ns1")?;
    /// net.node("ns1").ping("192.168.1.2")?;
    /// # Ok(()) }
    /// ```
    pub fn cut_link(&self, end: &str) -> Result<()> {
        let i = self.link_of(end)?;
        self.cut(i)
    }

    fn cut(&self, i: usize) -> Result<()> {
        let link = &self.topology().links[i];
        for e in &link.ends {
            self.try_node(&e.node)?.set_link_up(&e.iface, false)?;
        }
        self.cuts_mut(|c| {
            if !c.contains(&i) {
                c.push(i);
            }
        });
        Ok(())
    }

    /// Restores a link cut with [`Net::cut_link`] or [`Net::partition`]: both ends up,
    /// their addresses and both nodes' routes as the topology has them. Returns once
    /// both ends can send (operationally up, so the first packet after the call is not
    /// lost) and, in a topology that uses IPv6, their IPv6 addresses (those added at
    /// run time too) are usable: no longer tentative, and with their local routes.
    pub fn restore_link(&self, end: &str) -> Result<()> {
        let i = self.link_of(end)?;
        self.restore(i)
    }

    fn restore(&self, i: usize) -> Result<()> {
        let link: &Link = &self.topology().links[i];
        // Up in the reverse of the cut's order. The end the cut took down first lost
        // its carrier while it was closing, and the kernel applies such a change late
        // (its link-watch work, up to a second on): until then that end still says
        // operstate UP. Brought up last, it opens with its carrier already on and gets
        // its queue at once; the other end gets its queue from the link-watch work,
        // and says UP only once that has run.
        for e in link.ends.iter().rev() {
            let node = self.try_node(&e.node)?;
            node.set_link_up(&e.iface, true)?;
        }
        // The ends with an operational state to wait for (a tap, an end of a userspace
        // link, has none), with their indexes.
        let mut waited = Vec::with_capacity(link.ends.len());
        for e in &link.ends {
            let node = self.try_node(&e.node)?;
            let wait = e.config.up && node.emulated(&e.iface).is_none();
            if wait {
                node.wait_oper_up(&e.iface)?;
            }
            let index = node.interface(&e.iface)?.index;
            for a in &e.config.addresses {
                let mut req = crate::build::add_address(&e.iface, index, a);
                req.flags = NLM_F_CREATE | NLM_F_REPLACE;
                node.request(req)?;
            }
            if wait {
                waited.push((node, index));
            }
        }
        for name in [&link.ends[0].node, &link.ends[1].node] {
            let node = self.try_node(name)?;
            let Some(spec) = self.topology().node(name) else {
                continue;
            };
            for r in &spec.routes {
                let mut req = node.route_request(r, true)?;
                req.flags = NLM_F_CREATE | NLM_F_REPLACE;
                node.request(req)?;
            }
        }
        // As after the build: usable IPv6 addresses, not tentative ones (their carrier
        // came back, so the kernel runs its addrconf work for them again).
        if crate::build::uses_v6(self.topology()) {
            let deadline = Instant::now() + LINK_UP_TIMEOUT;
            for (node, index) in waited {
                node.netlink(|nl| nl.wait_v6_usable(&[index], deadline))
                    .map_err(|e| Error::io(Some(node.name()), crate::netlink::WAITING_V6, e))?;
            }
        }
        self.cuts_mut(|c| c.retain(|x| *x != i));
        Ok(())
    }

    /// Cuts every veth link with exactly one end in `side`: the nodes listed keep
    /// talking among themselves, and so do the others, but nothing crosses. Returns the
    /// links cut, as `"a:x <-> b:y"`. Bridges count as part of the node they are in:
    /// to keep two nodes on a bridge in `host` together, list `host` with them.
    pub fn partition(&self, side: &[&str]) -> Result<Vec<String>> {
        for n in side {
            self.try_node(n)?;
        }
        let mut cut = Vec::new();
        for (i, l) in self.topology().links.iter().enumerate() {
            let inside = l
                .ends
                .iter()
                .filter(|e| side.contains(&e.node.as_str()))
                .count();
            if inside == 1 {
                self.cut(i)?;
                cut.push(link_text(l));
            }
        }
        Ok(cut)
    }

    /// Restores every link cut so far (by [`Net::cut_link`] or [`Net::partition`]).
    pub fn heal(&self) -> Result<()> {
        let cuts = self.cuts_mut(|c| c.clone());
        for i in cuts {
            self.restore(i)?;
        }
        Ok(())
    }
}

fn link_text(l: &Link) -> String {
    format!(
        "{}:{} <-> {}:{}",
        l.ends[0].node, l.ends[0].iface, l.ends[1].node, l.ends[1].iface
    )
}

impl Node {
    /// Replaces the impairment of `iface`'s outgoing traffic (`tc qdisc replace dev
    /// IFACE root netem ...`); an empty [`Impairment`] removes it. Works whether or not
    /// the topology declared one.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// use std::time::Duration;
    /// use netns_test::topology::Impairment;
    /// let slow = Impairment { delay: Some(Duration::from_millis(100)), ..Impairment::default() };
    /// net.node("ns1").set_impairment("veth-ns1", &slow)?;
    /// # Ok(()) }
    /// ```
    ///
    /// On an end of a link emulated in userspace (`mode = "userspace"`) the netem part
    /// changes in the forwarder, at once; the rate is still a tbf qdisc.
    ///
    /// An impairment a topology file could not hold (see [`Impairment::check`]) is
    /// refused with what to change, and the interface keeps the one it had.
    pub fn set_impairment(&self, iface: &str, imp: &Impairment) -> Result<()> {
        imp.check().map_err(|why| {
            Error::io(
                Some(self.name()),
                format!("cannot impair `{iface}` with {imp}: {why}"),
                io::Error::from(io::ErrorKind::InvalidInput),
            )
        })?;
        let index = self.interface(iface)?.index;
        let kernel = match self.emulated(iface) {
            Some(params) => {
                if let Ok(mut p) = params.lock() {
                    *p = imp.clone();
                }
                Impairment {
                    rate: imp.rate,
                    burst: imp.burst,
                    ..Impairment::default()
                }
            }
            None => imp.clone(),
        };
        // Nothing to remove is fine: the kernel then refuses with ENOENT/EINVAL.
        let _ = self.request(crate::tc::remove(iface, index));
        for req in crate::tc::install(iface, index, &kernel) {
            let kind = if req.what.contains(" netem") {
                "netem"
            } else {
                "tbf"
            };
            match self.request(req) {
                Err(Error::Netlink { source, .. })
                    if source.raw_os_error() == Some(libc::ENOENT) =>
                {
                    // The network is built and stays as it was: not the build's
                    // "missing kernel features".
                    let instead = if kind == "netem" {
                        ", or emulate the link in userspace (`mode = \"userspace\"` on the link)"
                    } else {
                        ""
                    };
                    return Err(Error::io(
                        Some(self.name()),
                        format!(
                            "cannot impair `{iface}`: the running kernel lacks the `{kind}` \
                             qdisc ({}); use a kernel with it (or load its module){instead}",
                            crate::tc::config_option(kind)
                        ),
                        io::Error::from(io::ErrorKind::Unsupported),
                    ));
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// Waits until `iface` is operationally up, asking for it alone (`ip link show dev
    /// IFACE`) at first and on each link notification. Asking for one link makes the
    /// kernel (6.8 and later) apply its pending carrier change first (see
    /// [`Netlink::get_links`]), so UP means its queue is attached and a packet sent now
    /// is not dropped; on older kernels the order in which `restore` brings the ends up
    /// keeps a stale UP away. A notification itself is not trusted: the one sent when
    /// an end opens carries the operstate it had before, and notifications of earlier
    /// changes may still be queued.
    ///
    /// [`Netlink::get_links`]: crate::netlink::Netlink::get_links
    pub(crate) fn wait_oper_up(&self, iface: &str) -> Result<()> {
        let index = self.interface(iface)?.index;
        let deadline = Instant::now() + LINK_UP_TIMEOUT;
        loop {
            let links = self
                .netlink(|nl| {
                    // Joins the link notifications (they wake the wait below); what
                    // came so far is dropped, being no evidence.
                    nl.take_link_events();
                    nl.get_links(&[index])
                })
                .map_err(|e| {
                    Error::io(Some(self.name()), format!("`ip link show dev {iface}`"), e)
                })?;
            if links.iter().any(crate::build::is_up) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    node: self.name().to_owned(),
                    what: format!("waiting for {iface} to come up"),
                    after: LINK_UP_TIMEOUT,
                });
            }
            self.netlink(|nl| nl.wait_events(Duration::from_millis(50)))
                .map_err(|e| Error::io(Some(self.name()), "reading link notifications", e))?;
        }
    }
}
