//! Every scenario file in `fixtures/` is one test, named after the file: its topology
//! is built in throwaway namespaces and its `[[checks]]` run (see
//! `netns_test::scenario::harness_main`). `cargo test -p netns-test-it --test scenarios
//! -- s4` runs one; `--list` lists them; nextest runs each as its own process.

fn main() {
    netns_test::scenario::harness_main("../fixtures");
}
