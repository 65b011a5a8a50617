//! The kernel's fallback tunnel devices.

use crate::net::Interface;

/// Devices the kernel creates in every new network namespace once the matching tunnel
/// module is loaded (ip_gre, ipip, sit, ip6_tunnel, ip6_gre, ip_vti, ip6_vti), unless
/// `net.core.fb_tunnels_only_for_init_net` says otherwise (which cannot be changed from
/// a user namespace). A node can therefore hold these besides its own interfaces; they
/// stay down and carry nothing.
pub const FALLBACK_TUNNELS: &[&str] = &[
    "gre0", "gretap0", "erspan0", "tunl0", "sit0", "ip6tnl0", "ip6gre0", "ip_vti0", "ip6_vti0",
];

impl Interface {
    /// Whether this is one of the kernel's [`FALLBACK_TUNNELS`] rather than an
    /// interface the topology or the test made.
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) {
    /// let own: Vec<String> = net.node("ns1").interfaces().unwrap()
    ///     .into_iter()
    ///     .filter(|i| !i.is_fallback_tunnel())
    ///     .map(|i| i.name)
    ///     .collect();
    /// # }
    /// ```
    pub fn is_fallback_tunnel(&self) -> bool {
        FALLBACK_TUNNELS.contains(&self.name.as_str())
    }
}
