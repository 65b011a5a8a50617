//! Garbage in, diagnostics out: no input makes the parser panic, and every diagnostic
//! it produces has a sane position.

use netns_test_topology::parse;

use crate::fixtures::all_fixtures;

/// Parses and checks that every diagnostic points inside the text.
fn survive(src: &str) {
    if let Err(e) = parse(src, "fuzz.toml") {
        assert!(!e.diagnostics().is_empty() || e.omitted() > 0);
        for d in e.diagnostics() {
            assert!(
                d.span.start <= d.span.end && d.span.end <= src.len(),
                "{d:?}"
            );
            assert!(d.line >= 1 && d.column >= 1);
            assert!(!d.message.is_empty());
            let _ = d.to_string();
        }
        let _ = e.to_string();
    }
}

#[test]
fn every_prefix_of_every_fixture() {
    for (_, text) in all_fixtures() {
        for (i, _) in text.char_indices() {
            survive(&text[..i]);
        }
    }
}

#[test]
fn every_suffix_of_every_fixture() {
    for (_, text) in all_fixtures() {
        for (i, _) in text.char_indices() {
            survive(&text[i..]);
        }
    }
}

#[test]
fn single_character_mutations() {
    const REPLACEMENTS: [&str; 8] = ["\"", "[", "=", ":", "/", ",", "\n", "é"];
    for (_, text) in all_fixtures() {
        for (n, (i, c)) in text.char_indices().enumerate() {
            let r = REPLACEMENTS[n % REPLACEMENTS.len()];
            let mut s = String::with_capacity(text.len() + 2);
            s.push_str(&text[..i]);
            s.push_str(r);
            s.push_str(&text[i + c.len_utf8()..]);
            survive(&s);
            // Deleting a character.
            survive(&format!("{}{}", &text[..i], &text[i + c.len_utf8()..]));
        }
    }
}

#[test]
fn hostile_inputs() {
    let long = "x".repeat(100_000);
    let cases = [
        String::new(),
        "\u{feff}".to_owned(),
        "\0".to_owned(),
        "[".repeat(10_000),
        format!("a = {}{}", "[".repeat(5_000), "]".repeat(5_000)),
        format!("a = {}", "{ b = ".repeat(5_000)),
        format!("[nodes.{long}]"),
        format!("[[links]]\nendpoints = [\"{long}:{long}\", \"a:b\"]"),
        format!("[nodes.ns1]\nroutes = [\"{long}\"]"),
        format!("[nodes.ns1]\nsysctl = {{ \"net.{long}\" = 1 }}"),
        "[[links]]\nendpoints = [\"ns1:é\u{301}\", \"ns1:\u{200b}\"]".to_owned(),
        "[nodes.ns1]\nroutes = [\"\"\"\n10.0.0.0/8 via x\"\"\", '''\nblackhole''']".to_owned(),
        "[nodes.ns1]\nroutes = [\"\\u00e9 via 1.2.3.4\", \"10.0.0.0/8\\tvia\\t\"]".to_owned(),
        "[[bridges]]\nname = \"host:br0\"\nports = [\"br0\", \"host:\", \":x\", \"a:b:c\"]"
            .to_owned(),
        "[nodes]\nhost = 1\n[[links]]\nendpoints = 5".to_owned(),
        "nodes = []\nlinks = {}\nbridges = 1\ndevices = \"x\"".to_owned(),
        "[nodes.ns1]\nsysctl = { net = { ipv4 = { ip_forward = 1, \"x/y\" = 2.5 } } }".to_owned(),
        "\r\n[nodes.ns1]\r\nforwarding = 1\r\n".to_owned(),
        "a = 1979-05-27T07:32:00Z\nb = inf\nc = nan".to_owned(),
    ];
    for c in &cases {
        survive(c);
    }
}

#[test]
fn many_errors_are_capped() {
    let mut src = String::from("[nodes.ns1]\n");
    for i in 0..500 {
        src.push_str(&format!("k{i} = 1\n"));
    }
    let e = parse(&src, "t.toml").unwrap_err();
    assert_eq!(e.diagnostics().len() + e.omitted(), 500);
    assert!(e.diagnostics().len() <= 100);
    assert!(e.to_string().ends_with("error: 400 more errors not shown"));
}

/// A small deterministic generator (xorshift64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Nearest char boundary at or before `i`.
fn boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[test]
fn random_splices() {
    const TOKENS: &[&str] = &[
        "\"",
        "'",
        "[",
        "]]",
        "{",
        "}",
        "=",
        ",",
        "\n",
        ":",
        "/",
        ".",
        "#",
        "\"\"\"",
        "\\",
        "\\u",
        "-1",
        "99999999999999999999",
        "true",
        "1e5",
        "é",
        "\t",
        "host",
        "via",
        "dev",
        "onlink",
        "default",
        "blackhole",
        "fe80::1",
        "::",
        "0.0.0.0/0",
        "lo",
        "metric",
        "[[links]]\n",
        "[nodes.x]\n",
        "[[bridges]]\nname = \"host:br0\"\nports = [\"p\"]\n",
        "[[devices]]\nkind = \"dummy\"\n",
        "addresses = \"10.0.0.1/8\"",
        "mtu = 70",
        "routes = [\"default via 10.0.0.1\"]",
        "stp = true",
        "up = false",
    ];
    let fixtures = all_fixtures();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let (_, text) = &fixtures[rng.below(fixtures.len())];
        let mut s = text.clone();
        for _ in 0..1 + rng.below(4) {
            let at = boundary(&s, rng.below(s.len() + 1));
            if rng.below(3) == 0 {
                let end = boundary(&s, (at + rng.below(40)).min(s.len()));
                s.replace_range(at..end, "");
            } else {
                s.insert_str(at, TOKENS[rng.below(TOKENS.len())]);
            }
        }
        survive(&s);
    }
}
