//! Fuzzes the topology parser and validator: any input must give a topology or
//! diagnostics whose positions lie inside the input, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match netns_test_topology::parse(text, "fuzz.toml") {
        Ok(topo) => {
            // Whatever validates must be self-consistent.
            for i in topo.interfaces() {
                assert!(topo.node(i.node).is_some(), "interface in an unknown node");
                assert!(!i.name.is_empty() && i.name.len() <= 15);
            }
        }
        Err(e) => {
            for d in e.diagnostics() {
                assert!(d.span.start <= d.span.end && d.span.end <= text.len());
                assert!(d.line >= 1 && d.column >= 1);
                let _ = d.to_string();
            }
        }
    }
});
