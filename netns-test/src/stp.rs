//! Waiting for a bridge running STP: its ports listen, then learn, for the forward
//! delay each, before they forward (`brctl stp on`, `brctl setfd`).

use std::time::{Duration, Instant};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    BridgePortState, InfoBridgePort, InfoPortData, LinkAttribute, LinkInfo, LinkMessage, State,
};

use crate::error::{Error, Result};
use crate::net::Node;

/// One port's name and STP state, from a link dump.
fn port_state(l: &LinkMessage, bridge: u32) -> Option<(String, BridgePortState, bool)> {
    let mut name = String::new();
    let mut controller = None;
    let mut state = None;
    let mut up = false;
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Controller(c) => controller = Some(*c),
            // Devices without a carrier of their own (VXLAN, dummy, tun) say UNKNOWN
            // when they are up.
            LinkAttribute::OperState(s) => up = matches!(s, State::Up | State::Unknown),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::PortData(InfoPortData::BridgePort(p)) = i {
                        state = p.iter().find_map(|x| match x {
                            InfoBridgePort::State(s) => Some(*s),
                            _ => None,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    (controller == Some(bridge)).then_some((name, state?, up))
}

impl Node {
    /// Waits until every operationally up port of `bridge` has finished STP's
    /// listening and learning (it forwards, or blocks because it closes a loop), for
    /// at most `timeout`. Without STP, ports forward at once and this returns at once.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// use std::time::Duration;
    /// net.node("machine-a").wait_bridge_forwarding("br-pr", Duration::from_secs(30))?;
    /// # Ok(()) }
    /// ```
    pub fn wait_bridge_forwarding(&self, bridge: &str, timeout: Duration) -> Result<()> {
        let index = self.interface(bridge)?.index;
        let deadline = crate::deadline(Instant::now(), timeout);
        loop {
            let links = self
                .netlink(|nl| nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default())))
                .map_err(|e| Error::io(Some(self.name()), "`ip -d link show`", e))?;
            let waiting: Vec<String> = links
                .iter()
                .filter_map(|m| match m {
                    RouteNetlinkMessage::NewLink(l) => port_state(l, index),
                    _ => None,
                })
                .filter(|(_, s, up)| {
                    *up && matches!(s, BridgePortState::Listening | BridgePortState::Learning)
                })
                .map(|(n, s, _)| format!("{n} ({s:?})"))
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    node: self.name().to_owned(),
                    what: format!(
                        "waiting for the ports of bridge {bridge} to forward; still: {}",
                        waiting.join(", ")
                    ),
                    after: timeout,
                });
            }
            // Port state changes are announced on the link group: wake up on them.
            self.netlink(|nl| {
                nl.take_link_events();
                nl.wait_events(Duration::from_millis(250))
            })
            .map_err(|e| Error::io(Some(self.name()), "reading link notifications", e))?;
        }
    }
}

impl Node {
    /// Turns hairpin mode on or off for bridge port `port` (`bridge link set dev PORT
    /// hairpin on`): the bridge then sends frames back out of the port they came in
    /// on, the reflective relay that lets macvlans in `vepa` mode on the far side of
    /// that port talk to each other.
    pub fn set_hairpin(&self, port: &str, on: bool) -> Result<()> {
        use netlink_packet_route::link::InfoPortKind;
        use rtnetlink::LinkUnspec;
        let index = self.interface(port)?.index;
        // An RTM_NEWLINK without NLM_F_CREATE changes an existing port's settings.
        let msg = LinkUnspec::new_with_index(index)
            .set_port_kind(InfoPortKind::Bridge)
            .set_port_data(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                on,
            )]))
            .build();
        let state = if on { "on" } else { "off" };
        self.request(crate::netlink::Request::new(
            RouteNetlinkMessage::NewLink(msg),
            0,
            format!("bridge link set dev {port} hairpin {state}"),
        ))
    }
}
