//! The `#[netns_test]` attribute. Use it through the `netns-test` crate, which
//! re-exports it and documents it.
//!
//! The attribute works in three steps, one module each: `args` parses
//! `key = value` arguments, `topology` and `func` validate the topology and the
//! function, and `expand` writes the test.
#![forbid(unsafe_code)]

mod args;
mod errors;
mod expand;
mod func;
mod topology;

use proc_macro::TokenStream;

/// Turns a function into a test that runs in its own throwaway network.
///
/// ```ignore
/// use netns_test::{netns_test, Net};
///
/// #[netns_test(topology = "fixtures/pair.toml")]
/// fn ns1_reaches_ns2(net: &Net) {
///     net.node("ns1").ping("192.168.1.2").unwrap();
/// }
/// ```
///
/// Each test gets fresh user, network, PID and mount namespaces, builds the topology in
/// them as an unprivileged user, runs the body, and leaves nothing behind. `cargo test`
/// and `cargo nextest run` run it like any other test: no `harness = false`, no `sudo`.
///
/// # The topology: a file or inline text
///
/// `topology = "..."` is either
/// - **a path** to a topology file, relative to the directory of the crate's
///   `Cargo.toml` (`CARGO_MANIFEST_DIR`), or absolute. The file is read at compile
///   time and compiled into the test with `include_str!`, so editing it rebuilds the
///   test; or
/// - **the topology text itself**, usually a raw string. A string that contains a
///   newline, `[` or `=` is taken as text; anything else is a path.
///
/// The format (TOML: `[nodes.NAME]`, `[[links]]`, `[[bridges]]`, routes, ...) is
/// described in [`netns_test_topology`].
///
/// ```ignore
/// use netns_test::{netns_test, Net};
///
/// #[netns_test(topology = r#"
///     [nodes.ns1]
///     [nodes.ns2]
///
///     [[links]]
///     endpoints = [
///         { iface = "ns1:veth-ns1", addresses = ["192.168.1.1/24"] },
///         { iface = "ns2:veth-ns2", addresses = ["192.168.1.2/24"] },
///     ]
/// "#)]
/// fn inline_pair(net: &Net) {
///     net.node("ns2").ping("192.168.1.1").unwrap();
/// }
/// ```
///
/// Either way the topology is parsed and validated **at compile time**. A mistake (an
/// unknown node, a malformed address, a gateway no subnet reaches, a TOML syntax
/// error, ...) is a compile error at the string that says what is wrong and where:
///
/// ```text
/// error: unknown node `ns3` in link endpoint `ns3:veth-ns3`
///         --> fixtures/pair.toml:7:5
///          |
///        7 |     { iface = "ns3:veth-ns3", addresses = ["192.168.1.2/24"] },
///          |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
///          = help: declare it with `[nodes.ns3]`, or use one of the nodes: host, ns1, ns2
///  --> tests/it/pair.rs:4:25
///   |
/// 4 | #[netns_test(topology = "fixtures/pair.toml")]
///   |                         ^^^^^^^^^^^^^^^^^^^^
/// ```
///
/// In inline text, lines are counted from the start of the string (`r#"` followed
/// by a line break makes line 1 empty) and shown as `<inline>:LINE:COLUMN`.
///
/// # The function
///
/// - It takes the running network as `&Net` (any pattern: `net: &Net`,
///   `_: &netns_test::Net`), or no parameter at all.
/// - It may be `async`: it then runs on a current-thread tokio runtime.
///
///   ```ignore
///   #[netns_test(topology = "fixtures/pair.toml")]
///   async fn tcp_connects(net: &Net) {
///       let server = net.node("ns2").spawn(async { /* accept */ });
///       // ...
///   }
///   ```
/// - It may return `()` or a `Result<(), E>` where `E` converts into
///   `Box<dyn std::error::Error>`; an `Err` fails the test with the error and its
///   `source()` chain.
///
///   ```ignore
///   #[netns_test(topology = "fixtures/pair.toml")]
///   fn with_question_mark(net: &Net) -> Result<(), Box<dyn std::error::Error>> {
///       net.node("ns1").ping("192.168.1.2")?;
///       Ok(())
///   }
///   ```
/// - `#[should_panic]`, `#[ignore]`, `#[cfg(...)]`, doc comments and lint attributes
///   work as on a `#[test]`:
///
///   ```ignore
///   #[netns_test(topology = "fixtures/pair.toml")]
///   #[ignore = "slow"]
///   #[should_panic(expected = "unreachable")]
///   fn no_route_to_other_subnet(net: &Net) {
///       net.node("ns1").ping("10.9.9.9").expect("unreachable");
///   }
///   ```
///
/// `#[netns_test]` is the test attribute: adding `#[test]` (or `#[tokio::test]`) too is
/// an error. The function cannot be generic, `const`, `unsafe`, `extern`, take `self`,
/// or take more than the one `&Net` parameter; each of these is a compile error at the
/// offending part.
///
/// # Arguments
///
/// | key             | value                                                  | default |
/// |-----------------|--------------------------------------------------------|---------|
/// | `topology`      | a topology file's path, or its text (required)         |         |
/// | `timeout`       | `"30s"`, `"500ms"`, `"2m"`, or `"none"`                | 60 s    |
/// | `capture`       | `"on-failure"`, `"always"` or `"never"`                | on-failure |
/// | `snaplen`       | bytes kept of each captured packet, 64 to 262144       | 262144  |
/// | `capture_limit` | memory for the capture, e.g. `"32MiB"`; also a rate (below) | 32 MiB |
/// | `summary`       | how many packets the failure message lists             | 20      |
///
/// Each option but `topology` can also be set for every test with an environment
/// variable (`NETNS_TEST_TIMEOUT`, `NETNS_TEST_CAPTURE`, `NETNS_TEST_SNAPLEN`,
/// `NETNS_TEST_CAPTURE_LIMIT`, `NETNS_TEST_SUMMARY`); the attribute wins.
///
/// Against `capture_limit` each packet counts the bytes kept of it plus 64 for its
/// bookkeeping, so a limit of 1 MiB holds about 8,000 minimal frames of 64 bytes, or
/// 15 segments of 64 KiB.
///
/// `capture_limit` is also how fast the capture keeps whole packets: as many bytes a
/// second, and bursts of as many at once. Traffic faster than that (bulk TCP, say) is
/// kept cut to each packet's first 256 bytes, every header and the start of the
/// payload, until the rate allows whole packets again; the failure message and the
/// file say how many were cut. Copying every byte of bulk traffic once more cost it
/// 22-44% of its throughput on a veth, and the memory cap would keep only its last
/// milliseconds anyway; cut, the trace covers its every header for far longer. A test
/// that moves a few MiB keeps them whole; to keep more whole, raise `capture_limit`.
///
/// ```ignore
/// #[netns_test(topology = "fixtures/pair.toml", timeout = "5s", capture = "always")]
/// fn bulk_transfer(net: &Net) { /* ... */ }
/// ```
///
/// An unknown key, a repeated key, a bad value or a missing `topology` is a compile
/// error.
///
/// # What it expands to
///
/// Roughly (the real expansion uses absolute paths throughout):
///
/// ```ignore
/// #[test]
/// fn ns1_reaches_ns2() {
///     fn __netns_test_body(net: &Net) { /* the body, unchanged */ }
///     netns_test::__private::run_test(
///         &TestSpec {
///             module_path: module_path!(),
///             name: "ns1_reaches_ns2",
///             topology: include_str!("/abs/path/to/fixtures/pair.toml"),
///             origin: "fixtures/pair.toml",
///         },
///         |net| IntoOutcome::into_outcome(__netns_test_body(net)),
///     );
/// }
/// #[cfg(test)]
/// netns_test::__private::inventory::submit! {
///     Registered {
///         module_path: module_path!(),
///         name: "ns1_reaches_ns2",
///         run: ns1_reaches_ns2,
///         plain_host: true, // `host` keeps `lo` up and sets no sysctls
///         topology: || (include_str!("/abs/path/to/fixtures/pair.toml"), "fixtures/pair.toml"),
///         ignored: false,
///     }
/// }
/// ```
///
/// `run_test` starts a child process in new namespaces, which builds the topology and
/// calls the body; the test passes or fails with the child. The registration lets the
/// process's fork server start that child from namespaces made in advance, faster
/// than re-executing the test binary (under nextest's process-per-test mode the runner
/// starts the child the same way itself); `NETNS_TEST_FORK_SERVER=0` turns both off.
/// The runner also tells the server which tests libtest will run, in order (from
/// libtest's arguments; `ignored` is whether the test carries `#[ignore]`), so each of
/// the server's children readies for one of them and, for a small topology that
/// leaves `host` alone, builds its network too; a test with the same topology text
/// takes it. `NETNS_TEST_BUILD_AHEAD=0` turns that off.
#[proc_macro_attribute]
pub fn netns_test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::netns_test(args.into(), item.into()).into()
}
