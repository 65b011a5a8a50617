//! Step 3: the expansion. Also the driver that runs the steps (`netns_test`).
//!
//! ```text
//! #[other attributes]
//! #[::core::prelude::v1::test]
//! vis fn NAME() {
//!     [async] fn __netns_test_body(PARAM) -> RET BODY    // the user's function, renamed
//!     ::netns_test::__private::run_test_with(
//!         &::netns_test::__private::TestSpec { module_path, name, topology, origin },
//!         &::netns_test::__private::TestOptions { timeout_ms, capture, .. },
//!         |__netns_test_net: &::netns_test::Net| IntoOutcome::into_outcome(
//!             [block_on(] __netns_test_body(__netns_test_net) [)]
//!         ),
//!     );
//! }
//! #[user's cfg attributes]
//! #[cfg(test)]
//! ::netns_test::__private::inventory::submit! {   // for the fork server
//!     ::netns_test::__private::Registered {
//!         module_path, name, run: NAME, plain_host, topology: || (topology, origin), ignored,
//!     }
//! }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

use crate::args::{self, Options};
use crate::errors::Errors;
use crate::func::{self, TestFn};
use crate::topology::{self, Loaded, Source};

/// `#[netns_test(args)] item`, on `proc_macro2` tokens.
///
/// On error, the output is the `compile_error!`s plus, so that IDEs keep completing
/// and navigating in the function, as much of the item as is sound:
/// - if only the arguments or the topology are wrong, the full expansion with an
///   empty topology: it type-checks exactly like the correct one, so it adds no
///   error of its own, and the test still shows up as a test;
/// - if the function's shape is wrong, the function as written (see
///   [`TestFn::as_written`]), which compiles as long as the function does;
/// - if the item is not a function at all, the item unchanged.
///
/// None of these adds a compiler error of its own (emitting nothing at all would
/// instead turn every use of the function into a second error): the UI tests'
/// `.stderr` files show only the macro's messages.
pub(crate) fn netns_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let f = match func::parse(item.clone()) {
        Ok(f) => f,
        Err(e) => return with_error(item, e),
    };

    let mut errors = Errors::default();
    let fn_ok = errors.check(func::validate(&f)).is_some();
    let mut options = Options::default();
    let topology = errors.check(args::parse(args)).and_then(|args| {
        options = args.options;
        let loaded = errors.check(topology::load(&args.topology))?;
        Some((args.topology, loaded))
    });

    match errors.finish() {
        // No error: `topology` is `Some`.
        Ok(()) => expand(&f, topology.as_ref().map(|(lit, t)| (lit, t)), &options),
        Err(e) if fn_ok => with_error(expand(&f, None, &Options::default()), e),
        Err(e) => with_error(f.as_written().unwrap_or_default(), e),
    }
}

/// `tokens` followed by `error` as `compile_error!`s.
fn with_error(mut tokens: TokenStream, error: syn::Error) -> TokenStream {
    tokens.extend(error.into_compile_error());
    tokens
}

/// The test function for a validated `f`; `topology` is `None` on the error path.
fn expand(f: &TestFn, topology: Option<(&LitStr, &Loaded)>, options: &Options) -> TokenStream {
    let TestFn {
        attrs,
        vis,
        sig,
        body,
    } = f;
    let name = &sig.ident;
    // As libtest names the test (the runtime finds it by that name): `r#loop` keeps
    // its `r#`.
    let name_text = name.to_string();

    let mut body_sig = sig.clone();
    body_sig.ident = syn::Ident::new("__netns_test_body", Span::call_site());

    // Spans: the generated expressions that can fail to type-check point at the part
    // of the user's signature that is wrong (`located_at` keeps call-site hygiene).
    let arg = f.net_param().map(|p| {
        let span = Span::call_site().located_at(p.ty.span());
        quote_spanned!(span=> __netns_test_net)
    });
    let mut value = quote!(__netns_test_body(#arg));
    if sig.asyncness.is_some() {
        value = quote!(::netns_test::__private::block_on(#value));
    }
    let ret_span = match &sig.output {
        syn::ReturnType::Default => name.span(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    let ret_span = Span::call_site().located_at(ret_span);
    let returned = quote_spanned!(ret_span=> __netns_test_returned);
    let outcome = quote! {{
        let __netns_test_returned = #value;
        ::netns_test::__private::IntoOutcome::into_outcome(#returned)
    }};

    let (topology, origin, plain_host) = match topology {
        Some((lit, loaded)) => {
            let text = match &loaded.source {
                Source::File(abs) => quote!(::core::include_str!(#abs)),
                Source::Inline => quote!(#lit),
            };
            (text, loaded.origin.as_str(), loaded.plain_host)
        }
        None => (quote!(""), "<error>", true),
    };

    let should_panic = attrs.iter().find(|a| a.path().is_ident("should_panic"));
    let options = test_options(
        options,
        should_panic.is_some(),
        should_panic.and_then(panic_expected),
    );

    let cfgs = attrs.iter().filter(|a| a.path().is_ident("cfg"));
    let ignored = attrs.iter().any(|a| a.path().is_ident("ignore"));

    // User attributes come first and the test attribute last, as in tokio-macros: a
    // `#[cfg]`/`#[cfg_attr]` then applies before the test harness sees the function,
    // and attribute macros further down see the test attribute.
    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #body_sig #body

            ::netns_test::__private::run_test_with(
                &::netns_test::__private::TestSpec {
                    module_path: ::core::module_path!(),
                    name: #name_text,
                    topology: #topology,
                    origin: #origin,
                },
                &#options,
                |__netns_test_net: &::netns_test::Net| #outcome,
            );
        }

        // The fork server finds the test by its name here. `#[test]` functions exist
        // only in test builds, and under the user's `cfg`s.
        #(#cfgs)*
        #[cfg(test)]
        ::netns_test::__private::inventory::submit! {
            ::netns_test::__private::Registered {
                module_path: ::core::module_path!(),
                name: #name_text,
                run: #name,
                plain_host: #plain_host,
                topology: || (#topology, #origin),
                ignored: #ignored,
            }
        }
    }
}

/// The text of `#[should_panic(expected = "...")]` or `#[should_panic = "..."]`.
fn panic_expected(attr: &syn::Attribute) -> Option<syn::LitStr> {
    match &attr.meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.clone()),
            _ => None,
        },
        syn::Meta::List(_) => {
            let mut expected = None;
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("expected") {
                    expected = Some(meta.value()?.parse::<syn::LitStr>()?);
                }
                Ok(())
            });
            expected
        }
        syn::Meta::Path(_) => None,
    }
}

/// The `TestOptions` literal for `options`.
fn test_options(
    options: &Options,
    expects_panic: bool,
    panic_expected: Option<syn::LitStr>,
) -> TokenStream {
    fn opt<T: quote::ToTokens>(v: Option<T>) -> TokenStream {
        match v {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        }
    }
    let timeout_ms = opt(options.timeout_ms);
    let capture = opt(options.capture.as_deref());
    let snaplen = opt(options.snaplen);
    let capture_limit = opt(options.capture_limit);
    let summary = opt(options.summary);
    let panic_expected = opt(panic_expected);
    quote! {
        ::netns_test::__private::TestOptions {
            timeout_ms: #timeout_ms,
            capture: #capture,
            snaplen: #snaplen,
            capture_limit: #capture_limit,
            summary: #summary,
            expects_panic: #expects_panic,
            panic_expected: #panic_expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion as text, whitespace-normalized for `contains` checks.
    fn run(args: TokenStream, item: TokenStream) -> String {
        netns_test(args, item).to_string()
    }

    const INLINE: &str = "[nodes.a]\n";

    #[test]
    fn sync_with_net() {
        let out = run(
            quote!(topology = #INLINE),
            quote!(
                #[ignore]
                fn t(net: &Net) {
                    let _ = net;
                }
            ),
        );
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.starts_with("# [ignore] # [:: core :: prelude :: v1 :: test] fn t ()"),
            "{out}"
        );
        assert!(
            out.contains("fn __netns_test_body (net : & Net) { let _ = net ; }"),
            "{out}"
        );
        assert!(out.contains("name : \"t\""), "{out}");
        assert!(out.contains("origin : \"<inline>\""), "{out}");
        assert!(
            out.contains("__netns_test_body (__netns_test_net)"),
            "{out}"
        );
        assert!(!out.contains("block_on"), "{out}");
        assert!(
            out.contains("timeout_ms : :: core :: option :: Option :: None"),
            "{out}"
        );
        assert!(out.contains("expects_panic : false"), "{out}");
    }

    #[test]
    fn options_reach_the_runtime() {
        let out = run(
            quote!(topology = #INLINE, timeout = "2s", capture = "never", snaplen = 96),
            quote!(
                #[should_panic]
                fn t() {}
            ),
        );
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains("timeout_ms : :: core :: option :: Option :: Some (2000u64)"),
            "{out}"
        );
        assert!(
            out.contains("capture : :: core :: option :: Option :: Some (\"never\")"),
            "{out}"
        );
        assert!(
            out.contains("snaplen : :: core :: option :: Option :: Some (96u32)"),
            "{out}"
        );
        assert!(out.contains("expects_panic : true"), "{out}");
        assert!(
            out.contains("panic_expected : :: core :: option :: Option :: None"),
            "{out}"
        );
        for attr in [
            quote!(#[should_panic(expected = "boom")]),
            quote!(#[should_panic = "boom"]),
        ] {
            let out = run(quote!(topology = #INLINE), quote!(#attr fn t() {}));
            assert!(
                out.contains("panic_expected : :: core :: option :: Option :: Some (\"boom\")"),
                "{out}"
            );
        }
    }

    #[test]
    fn async_without_net_and_raw_name() {
        let out = run(
            quote!(topology = #INLINE),
            quote!(
                async fn r#match() {}
            ),
        );
        assert!(out.contains("async fn __netns_test_body ()"), "{out}");
        assert!(out.contains("block_on (__netns_test_body ())"), "{out}");
        assert!(out.contains("name : \"r#match\""), "{out}");
        assert!(out.contains("fn r#match ()"), "{out}");
    }

    #[test]
    fn bad_arguments_still_expand_the_test() {
        let out = run(
            quote!(topolgy = "x"),
            quote!(
                fn t(net: &Net) {}
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains(":: core :: prelude :: v1 :: test"), "{out}");
        assert!(out.contains("topology : \"\""), "{out}");
    }

    #[test]
    fn bad_function_is_emitted_as_written() {
        let out = run(
            quote!(topology = #INLINE),
            quote!(
                #[test]
                fn t<T>(net: &Net) {}
            ),
        );
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(
            out.contains("# [allow (dead_code)] fn t < T > (net : & Net) { }"),
            "{out}"
        );
        assert!(!out.contains("prelude"), "{out}");
        let out = run(
            quote!(topology = #INLINE),
            quote!(
                fn t(&self) {}
            ),
        );
        assert!(!out.contains("fn t"), "{out}");
    }

    #[test]
    fn not_a_function_is_emitted_unchanged() {
        let out = run(
            quote!(topology = #INLINE),
            quote!(
                struct S;
            ),
        );
        assert!(out.starts_with("struct S ;"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }
}
