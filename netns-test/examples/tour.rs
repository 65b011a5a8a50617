//! A tour of a topology: builds it in throwaway namespaces (no root needed), lists every
//! node's interfaces and addresses, and pings every address from every node.
//!
//! ```text
//! cargo run -p netns-test --example tour [TOPOLOGY]   # default: fixtures/s4.toml
//! ```

use netns_test::{Net, PingOptions};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    netns_test::isolate()?;
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/s4.toml").into());
    let net = Net::build(netns_test::load(&path)?)?;
    println!("topology {path}");
    let mut targets = Vec::new();
    for node in net.nodes() {
        println!("node {}", node.name());
        for i in node.interfaces()? {
            let addrs: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
            let state = if i.up { "up" } else { "down" };
            println!("  {:<16} {:<5} {}", i.name, state, addrs.join(" "));
        }
        for a in node.addresses()? {
            targets.push((node.name().to_owned(), a));
        }
    }
    println!("reachability (TTL of the reply; - unreachable):");
    let opts = PingOptions::default().timeout(Duration::from_millis(300));
    for from in net.nodes() {
        let row: Vec<String> = targets
            .iter()
            .map(|(owner, a)| match from.ping_with(*a, opts) {
                Ok(r) => format!("{owner}/{a}={}", r.ttl),
                Err(_) => format!("{owner}/{a}=-"),
            })
            .collect();
        println!("  {:<10} {}", from.name(), row.join("  "));
    }
    Ok(())
}
