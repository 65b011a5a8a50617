//! The running topology: [`Net`] and its [`Node`]s.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netns_test_topology::{HOST, IpNet, MacAddr, Topology};
use rtnetlink::LinkUnspec;

use crate::build::BuiltNode;
use crate::error::{Error, Result};
use crate::netlink::{Netlink, Request};
use crate::ns;

/// The environment variable that marks the per-test child process.
pub(crate) const CHILD_ENV: &str = "__NETNS_TEST_CHILD";

/// A running topology: every node of the test's network. The test body receives it as
/// `&Net`; everything it holds disappears with the test's namespaces when the test ends.
///
/// ```no_run
/// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
/// let reply = net.node("ns1").ping("192.168.1.2")?;
/// assert_eq!(reply.ttl, 64);
/// # Ok(()) }
/// ```
pub struct Net {
    topology: Topology,
    nodes: Vec<Node>,
    /// Links cut at run time (indexes into the topology's links).
    cuts: Mutex<Vec<usize>>,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("origin", &self.topology.origin)
            .field(
                "nodes",
                &self.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Net {
    pub(crate) fn from_built(topology: Topology, built: Vec<BuiltNode>) -> Net {
        let nodes = built
            .into_iter()
            .map(|b| Node {
                name: b.name,
                netns: b.netns,
                nl: Mutex::new(b.nl),
                worker: OnceLock::new(),
                taps: b.taps,
                env: b.env,
                emulated: b.emulated,
                _forwarders: b.forwarders,
            })
            .collect();
        Net {
            topology,
            nodes,
            cuts: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn cuts_mut<T>(&self, f: impl FnOnce(&mut Vec<usize>) -> T) -> T {
        f(&mut self.cuts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The node called `name`.
    ///
    /// # Panics
    /// If there is no such node; the message lists the nodes there are. Use
    /// [`Net::try_node`] to get an error instead.
    #[track_caller]
    pub fn node(&self, name: &str) -> &Node {
        match self.try_node(name) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    /// The node called `name`, or [`Error::UnknownNode`].
    pub fn try_node(&self, name: &str) -> Result<&Node> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| Error::UnknownNode {
                name: name.to_owned(),
                known: self.nodes.iter().map(|n| n.name.clone()).collect(),
            })
    }

    /// The `host` node: the test's own root network namespace (never the machine's).
    pub fn host(&self) -> &Node {
        &self.nodes[0]
    }

    /// Every node, `host` first, then in the topology file's order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// The topology this network was built from.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}

/// One node: a network namespace of the test (or the test's root namespace, `host`).
///
/// Code runs "in" a node on a thread that entered its namespace: [`Node::run`] for a
/// closure, [`Node::spawn`] for a future, [`Node::command`] for a program. A socket
/// keeps the namespace it was created in, so a socket made in `run` can be used from
/// any thread afterwards.
pub struct Node {
    name: String,
    netns: OwnedFd,
    nl: Mutex<Netlink>,
    worker: OnceLock<Worker>,
    taps: Vec<(String, OwnedFd)>,
    env: Option<ns::node_env::NodeEnv>,
    /// Ends of userspace links in this node and their impairments.
    emulated: Vec<(String, crate::emulate::Params)>,
    /// The forwarders of userspace links (held by `host`).
    _forwarders: Vec<crate::emulate::Forwarder>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node").field("name", &self.name).finish()
    }
}

/// A thread in the node's namespace driving a current-thread tokio runtime.
struct Worker {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A network interface as the kernel reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interface {
    /// Name, e.g. `veth-ns1`.
    pub name: String,
    /// Interface index in its namespace.
    pub index: u32,
    /// Hardware address, if it has one.
    pub mac: Option<MacAddr>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Has carrier / operationally running (`IFF_LOWER_UP`).
    pub lower_up: bool,
    /// Addresses with prefix length (IPv6 link-local ones included).
    pub addresses: Vec<IpNet>,
}

impl Node {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the `host` node.
    pub fn is_host(&self) -> bool {
        self.name == HOST
    }

    /// The node's network namespace, e.g. for `setns(2)` in your own code.
    pub fn netns(&self) -> BorrowedFd<'_> {
        self.netns.as_fd()
    }

    /// Runs `f` on a fresh thread inside this node's network namespace and returns its
    /// value. Sockets `f` creates belong to the node. A panic in `f` is resumed here.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) {
    /// let listener = net.node("ns2").run(|| std::net::TcpListener::bind("0.0.0.0:7000")).unwrap();
    /// # }
    /// ```
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let fd = self.netns.as_fd();
        let env = self.env.as_ref();
        std::thread::scope(|s| {
            let h = std::thread::Builder::new()
                .name(format!("netns:{}", self.name))
                .spawn_scoped(s, move || {
                    if let Err(e) = ns::setns_net(fd) {
                        panic!("netns-test: cannot enter node `{}`: {e}", self.name);
                    }
                    if let Some(env) = env
                        && let Err(e) = ns::node_env::enter_thread(env)
                    {
                        panic!(
                            "netns-test: cannot give node `{}` its names: {e}",
                            self.name
                        );
                    }
                    f()
                })
                .unwrap_or_else(|e| panic!("netns-test: cannot start a thread: {e}"));
            match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }

    fn worker(&self) -> &Worker {
        self.worker.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let fd = self
                .netns
                .try_clone()
                .unwrap_or_else(|e| panic!("netns-test: cannot duplicate a namespace fd: {e}"));
            let name = self.name.clone();
            let env = self.env.clone();
            std::thread::Builder::new()
                .name(format!("netns-rt:{}", self.name))
                .spawn(move || {
                    if let Err(e) = ns::setns_net(fd.as_fd()) {
                        panic!("netns-test: cannot enter node `{name}`: {e}");
                    }
                    if let Some(env) = &env
                        && let Err(e) = ns::node_env::enter_thread(env)
                    {
                        panic!("netns-test: cannot give node `{name}` its names: {e}");
                    }
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap_or_else(|e| panic!("netns-test: cannot build a runtime: {e}"));
                    let _ = tx.send(rt.handle().clone());
                    let _ = rt.block_on(stop_rx);
                })
                .unwrap_or_else(|e| panic!("netns-test: cannot start a thread: {e}"));
            let handle = rx.recv().unwrap_or_else(|_| {
                panic!("netns-test: node `{}` runtime failed to start", self.name)
            });
            Worker {
                handle,
                _stop: stop_tx,
            }
        })
    }

    /// Spawns `fut` on this node's runtime (a current-thread tokio runtime on a thread
    /// inside the node, started on first use). Sockets the future creates belong to the
    /// node. Await the handle from any runtime.
    ///
    /// ```no_run
    /// # async fn body(net: &netns_test::Net) {
    /// let server = net.node("ns2").spawn(async {
    ///     let l = tokio::net::TcpListener::bind("0.0.0.0:7000").await.unwrap();
    ///     l.accept().await.unwrap().1
    /// });
    /// # }
    /// ```
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.worker().handle.spawn(fut)
    }

    /// A [`std::process::Command`] whose program starts inside this node (its network
    /// namespace, with a `/sys` that shows the node's interfaces).
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) {
    /// let out = net.node("ns1").command("ip").args(["addr"]).output().unwrap();
    /// # }
    /// ```
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.env_remove(CHILD_ENV);
        match &self.env {
            Some(env) => ns::node_env::enter_node_env(&mut cmd, self.netns.as_fd(), env),
            None => ns::spawn::enter_node(&mut cmd, self.netns.as_fd()),
        }
        cmd
    }

    /// A [`tokio::process::Command`] whose program starts inside this node.
    pub fn tokio_command(&self, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        tokio::process::Command::from(self.command(program))
    }

    /// The far end of the node's tun or tap device `name` (a `[[devices]]` entry of
    /// kind `tun` or `tap`): what the body writes is received by the interface, and what
    /// the node sends out of the interface is read here, one frame (tap: Ethernet; tun:
    /// IP packet, no packet information header) per `read`.
    ///
    /// Each call returns a new descriptor for the same device (reads block; use
    /// `set_nonblocking` through `std::os::fd` or wrap it in `tokio::io::unix::AsyncFd`
    /// for async code). The device lives as long as the test's network.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// use std::io::Read;
    /// let mut tap = net.node("ns1").tap("tap0")?;
    /// let mut frame = [0u8; 1514];
    /// let n = tap.read(&mut frame).unwrap();
    /// # Ok(()) }
    /// ```
    pub fn tap(&self, name: &str) -> Result<std::fs::File> {
        let Some((_, fd)) = self.taps.iter().find(|(n, _)| n == name) else {
            return Err(Error::UnknownInterface {
                node: self.name.clone(),
                name: name.to_owned(),
                known: self.taps.iter().map(|(n, _)| n.clone()).collect(),
            });
        };
        fd.try_clone().map(std::fs::File::from).map_err(|e| {
            Error::io(
                Some(&self.name),
                format!("duplicating the descriptor of {name}"),
                e,
            )
        })
    }

    /// The impairment of `iface` if it is an end of a link emulated in userspace.
    pub(crate) fn emulated(&self, iface: &str) -> Option<&crate::emulate::Params> {
        self.emulated
            .iter()
            .find(|(n, _)| n == iface)
            .map(|(_, p)| p)
    }

    pub(crate) fn netlink<T>(
        &self,
        f: impl FnOnce(&mut Netlink) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let mut nl = self.nl.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut nl)
    }

    pub(crate) fn request(&self, req: Request) -> Result<()> {
        let refused = self
            .netlink(|nl| nl.execute(std::slice::from_ref(&req)))
            .map_err(|e| Error::io(Some(&self.name), format!("`{}`", req.what), e))?;
        match refused.into_iter().next() {
            None => Ok(()),
            Some(r) => Err(Error::Netlink {
                node: self.name.clone(),
                what: req.what,
                detail: r.detail,
                source: r.error,
            }),
        }
    }

    /// Every interface of the node now, `lo` included (`ip addr show`).
    pub fn interfaces(&self) -> Result<Vec<Interface>> {
        let what = |e| Error::io(Some(&self.name), "`ip addr show`", e);
        let links = self
            .netlink(|nl| nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default())))
            .map_err(what)?;
        let addrs = self
            .netlink(|nl| nl.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default())))
            .map_err(what)?;
        let mut out: Vec<Interface> = links
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(interface_of(&l)),
                _ => None,
            })
            .collect();
        for m in addrs {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                let addr = a.attributes.iter().find_map(|at| match at {
                    AddressAttribute::Local(ip) => Some(*ip),
                    _ => None,
                });
                let addr = addr.or_else(|| {
                    a.attributes.iter().find_map(|at| match at {
                        AddressAttribute::Address(ip) => Some(*ip),
                        _ => None,
                    })
                });
                if let (Some(ip), Some(i)) =
                    (addr, out.iter_mut().find(|i| i.index == a.header.index))
                    && let Ok(net) = IpNet::new(ip, a.header.prefix_len)
                {
                    i.addresses.push(net);
                }
            }
        }
        Ok(out)
    }

    /// The interface called `name`, or [`Error::UnknownInterface`].
    pub fn interface(&self, name: &str) -> Result<Interface> {
        let all = self.interfaces()?;
        let known: Vec<String> = all.iter().map(|i| i.name.clone()).collect();
        all.into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::UnknownInterface {
                node: self.name.clone(),
                name: name.to_owned(),
                known,
            })
    }

    /// The node's addresses now, on every interface but `lo` (IPv6 link-local ones
    /// excluded).
    pub fn addresses(&self) -> Result<Vec<IpAddr>> {
        Ok(self
            .interfaces()?
            .into_iter()
            .filter(|i| i.name != "lo")
            .flat_map(|i| i.addresses)
            .map(|n| n.addr())
            .filter(|a| !matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
            .collect())
    }

    /// Sets an interface up or down (`ip link set IFACE up|down`).
    ///
    /// As with `ip`, the kernel drops the routes through an interface that goes down,
    /// and bringing it up again does not put them back (nor IPv6 addresses, unless
    /// `keep_addr_on_down` is set). To take a veth link down and back as the topology
    /// has it, use [`Net::cut_link`] and [`Net::restore_link`].
    pub fn set_link_up(&self, iface: &str, up: bool) -> Result<()> {
        let b = LinkUnspec::new_with_name(iface);
        let msg = if up { b.up() } else { b.down() }.build();
        let verb = if up { "up" } else { "down" };
        let done = self.request(Request::new(
            RouteNetlinkMessage::SetLink(msg),
            0,
            format!("ip link set {iface} {verb}"),
        ));
        self.or_unknown(iface, done)
    }

    /// `done`, or [`Error::UnknownInterface`] if the kernel refused a request by name
    /// because the node has no `iface` (`ENODEV`).
    fn or_unknown(&self, iface: &str, done: Result<()>) -> Result<()> {
        match done {
            Err(Error::Netlink { ref source, .. })
                if source.raw_os_error() == Some(libc::ENODEV) =>
            {
                match self.interface(iface) {
                    Err(unknown @ Error::UnknownInterface { .. }) => Err(unknown),
                    _ => done,
                }
            }
            other => other,
        }
    }

    /// Moves interface `iface` into node `to` (`ip link set IFACE netns TO`). The
    /// kernel brings it down and drops its addresses on the way, as with `ip`; this node
    /// no longer sees it afterwards.
    pub fn move_interface(&self, iface: &str, to: &Node) -> Result<()> {
        let msg = LinkUnspec::new_with_name(iface)
            .setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&to.netns))
            .build();
        let done = self.request(Request::new(
            RouteNetlinkMessage::SetLink(msg),
            0,
            format!("ip link set {iface} netns {}", to.name),
        ));
        self.or_unknown(iface, done)
    }

    /// Adds an address to an interface (`ip addr add ADDR dev IFACE`; an IPv6 address
    /// `nodad`, without duplicate address detection, so that it is not tentative).
    ///
    /// An IPv6 address is usable when the call returns, as the topology's are when the
    /// body starts: unlike `ip`, the call waits (up to 10 s, usually well under a
    /// millisecond) for the kernel's addrconf work to join the address's solicited-node
    /// group and put in its local route. Before that, a neighbour solicitation for it
    /// goes unanswered, so the first packet to it waits a second for the next one. On
    /// an interface that is down the route is put in at once and the call does not
    /// wait; the kernel finishes with the address when the interface comes up
    /// ([`Net::restore_link`] waits for that, [`Node::set_link_up`] does not).
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// net.node("ns2").add_address("veth-ns2", "fd00::7/64".parse().unwrap())?;
    /// net.node("ns1").ping("fd00::7")?;
    /// # Ok(()) }
    /// ```
    pub fn add_address(&self, iface: &str, addr: IpNet) -> Result<()> {
        let index = self.interface(iface)?.index;
        let mut req = crate::build::add_address(iface, index, &addr);
        if !addr.addr().is_ipv6() {
            return self.request(req);
        }
        if let RouteNetlinkMessage::NewAddress(m) = &mut req.msg {
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
            req.what.push_str(" nodad");
        }
        self.request(req)?;
        let deadline = std::time::Instant::now() + crate::build::LINK_UP_TIMEOUT;
        self.netlink(|nl| nl.wait_v6_usable(&[index], deadline))
            .map_err(|e| Error::io(Some(&self.name), crate::netlink::WAITING_V6, e))
    }

    /// Adds a route to this node (`ip route add ROUTE`), written as in a topology
    /// file's `routes`: `"192.168.2.0/24 via 192.168.1.1"`, `"default dev eth0"`,
    /// `"blackhole 10.9.0.0/16"`, with `metric N` and `onlink` if needed. A route
    /// already there is an error, as with `ip`.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// // A route flap: ns1 loses its way to ns2, then gets it back.
    /// let ns1 = net.node("ns1");
    /// ns1.remove_route("192.168.2.0/24 via 192.168.1.1")?;
    /// assert!(ns1.ping("192.168.2.2").is_err());
    /// ns1.add_route("192.168.2.0/24 via 192.168.1.1")?;
    /// ns1.ping("192.168.2.2")?;
    /// # Ok(()) }
    /// ```
    pub fn add_route(&self, route: &str) -> Result<()> {
        self.change_route(&route.parse()?, true)
    }

    /// Removes a route from this node (`ip route del ROUTE`), written as for
    /// [`Node::add_route`]: the route that matches what is given, whoever added it
    /// (the kernel's connected routes too). A route that is not there is an error.
    pub fn remove_route(&self, route: &str) -> Result<()> {
        self.change_route(&route.parse()?, false)
    }

    /// Adds (`add`) or removes the route `r` (see [`Node::add_route`]).
    pub(crate) fn change_route(&self, r: &netns_test_topology::Route, add: bool) -> Result<()> {
        self.request(self.route_request(r, add)?)
    }

    /// The request that adds (`add`) or removes the route `r` in this node, its `dev`
    /// looked up here.
    pub(crate) fn route_request(
        &self,
        r: &netns_test_topology::Route,
        add: bool,
    ) -> Result<Request> {
        let dev = match &r.kind {
            netns_test_topology::RouteKind::Unicast { dev: Some(d), .. } => {
                Some(self.interface(d)?.index)
            }
            _ => None,
        };
        let text = r.to_string();
        Ok(if add {
            crate::build::add_route(r, dev, text)
        } else {
            crate::build::del_route(r, dev, text)
        })
    }
}

fn interface_of(l: &LinkMessage) -> Interface {
    let mut i = Interface {
        name: String::new(),
        index: l.header.index,
        mac: None,
        mtu: None,
        up: l.header.flags.contains(LinkFlags::Up),
        lower_up: l.header.flags.contains(LinkFlags::LowerUp),
        addresses: Vec::new(),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => i.name = n.clone(),
            LinkAttribute::Mtu(m) => i.mtu = Some(*m),
            LinkAttribute::Address(mac) if mac.len() == 6 => {
                let mut b = [0u8; 6];
                b.copy_from_slice(mac);
                i.mac = Some(MacAddr(b));
            }
            _ => {}
        }
    }
    i
}
