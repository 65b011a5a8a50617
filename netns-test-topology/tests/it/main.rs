//! Tests of the topology parser: the fixtures, every error kind, and robustness.

mod checks;
mod errors_addr;
mod errors_bridge;
mod errors_names;
mod errors_route;
mod errors_syntax;
mod fixtures;
mod robustness;

use netns_test_topology::{Diagnostic, Topology, parse};

/// Parses `src`, expecting success.
fn ok(src: &str) -> Topology {
    match parse(src, "t.toml") {
        Ok(t) => t,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

/// Parses `src`, expecting failure; returns the diagnostics.
fn errs(src: &str) -> Vec<Diagnostic> {
    match parse(src, "t.toml") {
        Ok(t) => panic!("expected errors, got {t:#?}"),
        Err(e) => e.diagnostics().to_vec(),
    }
}

/// Parses `src`, expecting exactly one diagnostic.
fn one(src: &str) -> Diagnostic {
    let d = errs(src);
    assert_eq!(d.len(), 1, "expected one diagnostic, got:\n{}", render(&d));
    d.into_iter().next().unwrap()
}

fn render(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Asserts position and message of a diagnostic.
#[track_caller]
fn check(d: &Diagnostic, line: usize, column: usize, message: &str) {
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (line, column, message),
        "\n{d}"
    );
}

/// The text a diagnostic's span covers in `src`.
fn spanned<'a>(src: &'a str, d: &Diagnostic) -> &'a str {
    &src[d.span.clone()]
}

/// The help text of a diagnostic ("" if none).
fn help(d: &Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}
