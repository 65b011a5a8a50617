//! Step 1: the attribute's arguments, `#[netns_test(key = value, ...)]`.
//!
//! Every accepted key is one row of [`KEYS`]. Adding an option (say `timeout = "30s"`
//! or `capture = "always"`) means adding a row there and a field to [`Args`]; parsing,
//! duplicate and unknown-key errors and the list of keys in messages follow from the
//! table.

use netns_test_topology::units::{parse_duration_ms, parse_size};
use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Token};

use crate::errors::Errors;

/// The arguments of one `#[netns_test(...)]`, checked for shape (not yet for meaning:
/// the topology is read and validated in [`crate::topology`]).
pub(crate) struct Args {
    /// `topology = "..."`: a file path or inline topology text, as written.
    pub(crate) topology: LitStr,
    /// The further options (timeout, capture), checked.
    pub(crate) options: Options,
}

/// The attribute's options besides the topology; `None` when not given.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// `timeout = "30s"`, in milliseconds; 0 for `"none"`.
    pub(crate) timeout_ms: Option<u64>,
    /// `capture = "always" | "on-failure" | "never"`.
    pub(crate) capture: Option<String>,
    /// `snaplen = 128`.
    pub(crate) snaplen: Option<u32>,
    /// `capture_limit = "64MiB"`, in bytes.
    pub(crate) capture_limit: Option<u64>,
    /// `summary = 20`.
    pub(crate) summary: Option<u32>,
}

/// One accepted key of the attribute.
struct Key {
    /// The key as the user writes it.
    name: &'static str,
    /// Stores the key's value into the arguments collected so far, or says what is
    /// wrong with it (spanned at the value).
    set: fn(&mut Collected, &Expr) -> syn::Result<()>,
}

/// The keys `#[netns_test]` accepts, in the order messages list them.
const KEYS: &[Key] = &[
    Key {
        name: "topology",
        set: |collected, value| {
            collected.topology = Some(string_value("topology", value)?);
            Ok(())
        },
    },
    Key {
        name: "timeout",
        set: |collected, value| {
            let s = string_value("timeout", value)?;
            let ms = parse_duration_ms(&s.value()).ok_or_else(|| {
                syn::Error::new(
                    s.span(),
                    format!(
                        "`timeout` expects a duration such as \"30s\", \"500ms\", \"2m\" or \
                         \"none\", not {:?}",
                        s.value()
                    ),
                )
            })?;
            collected.options.timeout_ms = Some(ms);
            Ok(())
        },
    },
    Key {
        name: "capture",
        set: |collected, value| {
            let s = string_value("capture", value)?;
            let v = s.value();
            if !["always", "on-failure", "never"].contains(&v.as_str()) {
                return Err(syn::Error::new(
                    s.span(),
                    format!("`capture` expects \"always\", \"on-failure\" or \"never\", not {v:?}"),
                ));
            }
            collected.options.capture = Some(v);
            Ok(())
        },
    },
    Key {
        name: "snaplen",
        set: |collected, value| {
            let n = int_value("snaplen", value, 64, 262_144)?;
            collected.options.snaplen = Some(n as u32);
            Ok(())
        },
    },
    Key {
        name: "capture_limit",
        set: |collected, value| {
            let s = string_value("capture_limit", value)?;
            let bytes = parse_size(&s.value()).filter(|b| *b > 0).ok_or_else(|| {
                syn::Error::new(
                    s.span(),
                    format!(
                        "`capture_limit` expects a size such as \"32MiB\", \"512KiB\" or \
                         \"1GiB\", not {:?}",
                        s.value()
                    ),
                )
            })?;
            collected.options.capture_limit = Some(bytes);
            Ok(())
        },
    },
    Key {
        name: "summary",
        set: |collected, value| {
            let n = int_value("summary", value, 0, 100_000)?;
            collected.options.summary = Some(n as u32);
            Ok(())
        },
    },
];

/// The arguments seen so far: every key is optional until the end of the list.
#[derive(Default)]
struct Collected {
    topology: Option<LitStr>,
    options: Options,
}

/// `key = value`, or a key alone (which is an error reported with a good span).
struct Entry {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Err(input.error(
                "expected `key = value`: write `topology = \"...\"` with a topology file's path \
                 or the topology text",
            ));
        }
        let key: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `key = value`, e.g. `topology = \"...\"`",
            )
        })?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Entry { key, value })
    }
}

/// Parses and checks the attribute's arguments. All problems found are reported
/// together (combined into one [`syn::Error`]).
pub(crate) fn parse(args: TokenStream) -> syn::Result<Args> {
    let entries = Punctuated::<Entry, Token![,]>::parse_terminated.parse2(args)?;

    let mut collected = Collected::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut errors = Errors::default();
    for entry in &entries {
        let name = entry.key.to_string();
        let Some(key) = KEYS.iter().find(|k| k.name == name) else {
            errors.push(unknown_key(&entry.key));
            continue;
        };
        if seen.contains(&key.name) {
            errors.push(syn::Error::new(
                entry.key.span(),
                format!("`{}` is given more than once; keep one", key.name),
            ));
            continue;
        }
        seen.push(key.name);
        match &entry.value {
            Some(value) => {
                if let Err(e) = (key.set)(&mut collected, value) {
                    errors.push(e);
                }
            }
            None => errors.push(syn::Error::new(
                entry.key.span(),
                format!("expected `{0} = ...` after `{0}`", key.name),
            )),
        }
    }
    errors.finish()?;

    let Some(topology) = collected.topology else {
        return Err(syn::Error::new(
            Span::call_site(),
            "missing `topology = \"...\"`: name a topology file (relative to the directory \
             of this crate's Cargo.toml) or write the topology inline, e.g. \
             `#[netns_test(topology = \"fixtures/pair.toml\")]`",
        ));
    };
    Ok(Args {
        topology,
        options: collected.options,
    })
}

/// The error for a key not in [`KEYS`], with a suggestion for a near miss.
fn unknown_key(key: &Ident) -> syn::Error {
    let name = key.to_string();
    let accepted = KEYS
        .iter()
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut message = format!("unknown key `{name}` in `#[netns_test]`; accepted keys: {accepted}");
    if let Some(near) = KEYS.iter().find(|k| edit_distance(&name, k.name) <= 2) {
        message.push_str(&format!(" (did you mean `{}`?)", near.name));
    }
    syn::Error::new(key.span(), message)
}

/// A string literal value, or an error at the value saying what was expected.
fn string_value(key: &str, value: &Expr) -> syn::Result<LitStr> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(s), ..
    }) = value
    {
        return Ok(s.clone());
    }
    let hint = match value {
        Expr::Macro(_) => {
            "; write the file's path itself: `#[netns_test]` reads the file at compile time"
        }
        _ => "",
    };
    Err(syn::Error::new(
        value.span(),
        format!("`{key}` expects a string literal{hint}"),
    ))
}

/// An integer literal in `min..=max`, or an error at the value.
fn int_value(key: &str, value: &Expr, min: u64, max: u64) -> syn::Result<u64> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(i), ..
    }) = value
        && let Ok(n) = i.base10_parse::<u64>()
        && (min..=max).contains(&n)
    {
        return Ok(n);
    }
    Err(syn::Error::new(
        value.span(),
        format!("`{key}` expects an integer from {min} to {max}"),
    ))
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur.push(substitute.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn err(args: TokenStream) -> String {
        match parse(args) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn accepts_topology() {
        let args = parse(quote!(topology = "fixtures/a.toml")).unwrap();
        assert_eq!(args.topology.value(), "fixtures/a.toml");
        let args = parse(quote!(topology = "x.toml",)).unwrap();
        assert_eq!(args.topology.value(), "x.toml");
    }

    #[test]
    fn rejects_unknown_duplicate_missing() {
        assert_eq!(
            err(quote!(topolgy = "a")),
            "unknown key `topolgy` in `#[netns_test]`; accepted keys: `topology`, `timeout`, \
             `capture`, `snaplen`, `capture_limit`, `summary` (did you mean `topology`?)"
        );
        assert!(err(quote!(timeot = "3s", topology = "a")).ends_with("(did you mean `timeout`?)"));
        assert_eq!(
            err(quote!(topology = "a", topology = "b")),
            "`topology` is given more than once; keep one"
        );
        assert!(err(quote!()).starts_with("missing `topology"));
        assert_eq!(
            err(quote!(topology)),
            "expected `topology = ...` after `topology`"
        );
        assert_eq!(
            err(quote!(topology = 3)),
            "`topology` expects a string literal"
        );
        assert!(err(quote!("a.toml")).starts_with("expected `key = value`"));
        // Two problems, both reported.
        assert_eq!(
            err(quote!(a = "x", b = "y")).matches("unknown key").count(),
            2
        );
    }

    #[test]
    fn capture_and_timeout_options() {
        let args = parse(quote!(
            topology = "a",
            timeout = "1500ms",
            capture = "always",
            snaplen = 128,
            capture_limit = "2MiB",
            summary = 5
        ))
        .unwrap();
        assert_eq!(
            args.options,
            Options {
                timeout_ms: Some(1500),
                capture: Some("always".into()),
                snaplen: Some(128),
                capture_limit: Some(2 << 20),
                summary: Some(5),
            }
        );
        assert_eq!(
            parse(quote!(topology = "a", timeout = "none"))
                .unwrap()
                .options
                .timeout_ms,
            Some(0)
        );
        assert!(err(quote!(topology = "a", timeout = "soon")).starts_with("`timeout` expects"));
        assert!(err(quote!(topology = "a", timeout = 30)).contains("string literal"));
        assert!(
            err(quote!(topology = "a", capture = "sometimes")).starts_with("`capture` expects")
        );
        assert_eq!(
            err(quote!(topology = "a", snaplen = 10)),
            "`snaplen` expects an integer from 64 to 262144"
        );
        assert!(err(quote!(topology = "a", capture_limit = "lots")).contains("32MiB"));
        assert!(err(quote!(topology = "a", summary = "5")).contains("integer"));
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("topology", "topology"), 0);
        assert_eq!(edit_distance("topolgy", "topology"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert!(edit_distance("capture", "topology") > 2);
    }
}
