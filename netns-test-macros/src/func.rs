//! Step 2b: the function under `#[netns_test]`, parsed and checked for a shape the
//! runtime can call: `[async] fn name([pattern: &Net]) [-> Result<(), E>] { ... }`.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, FnArg, Meta, PatType, Path, Signature, Type, Visibility};

use crate::errors::Errors;

/// The function, parsed just enough: the body is kept as tokens (not parsed into
/// statements), as tokio-macros does, so a body syn cannot parse is still the
/// compiler's to judge and parsing stays cheap.
pub(crate) struct TestFn {
    /// Outer attributes, in order.
    pub(crate) attrs: Vec<Attribute>,
    /// `pub`, `pub(crate)`, or nothing.
    pub(crate) vis: Visibility,
    /// Everything from `const`/`async`/`fn` to the return type.
    pub(crate) sig: Signature,
    /// `{ ... }`, untouched.
    pub(crate) body: Group,
}

impl Parse for TestFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body = match input.parse::<TokenTree>()? {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => g,
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "expected the function's body `{ ... }`",
                ));
            }
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(TestFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl TestFn {
    /// The one parameter (the `&Net`), if the function takes it.
    pub(crate) fn net_param(&self) -> Option<&PatType> {
        match self.sig.inputs.first() {
            Some(FnArg::Typed(p)) => Some(p),
            _ => None,
        }
    }

    /// The function as the user wrote it, for the error path: emitted next to the
    /// `compile_error!` so that IDEs still know it (see `expand::netns_test`). Test
    /// attributes are dropped (a `#[test]` on a function with a parameter would add a
    /// second, misleading error in test builds) and `dead_code` is allowed since
    /// nothing calls it. `None` when the function is not valid Rust on its own (a
    /// `self` parameter or C variadics outside an impl/extern block): emitting it
    /// would only add the compiler's own error to ours.
    pub(crate) fn as_written(&self) -> Option<TokenStream> {
        if self.sig.receiver().is_some() || self.sig.variadic.is_some() {
            return None;
        }
        let attrs = self.attrs.iter().filter(|a| test_attribute(a).is_none());
        let (vis, sig, body) = (&self.vis, &self.sig, &self.body);
        Some(quote! {
            #(#attrs)*
            #[allow(dead_code)]
            #vis #sig #body
        })
    }
}

/// Parses the item under the attribute.
pub(crate) fn parse(item: TokenStream) -> syn::Result<TestFn> {
    let is_fn = item
        .clone()
        .into_iter()
        .any(|t| matches!(&t, TokenTree::Ident(i) if i == "fn"));
    syn::parse2(item).map_err(|e| {
        if is_fn {
            e
        } else {
            syn::Error::new(e.span(), "`#[netns_test]` goes on a function")
        }
    })
}

/// Checks that the runtime can call the function; reports every problem found.
pub(crate) fn validate(f: &TestFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &f.sig;
    let mut fail = |tokens: &dyn ToTokens, message: &str| {
        errors.push(syn::Error::new_spanned(tokens, message));
    };

    for attr in &f.attrs {
        if let Some(message) = test_attribute(attr) {
            fail(attr, &message);
        }
    }
    if let Some(t) = &sig.constness {
        fail(t, "a `#[netns_test]` function cannot be `const`");
    }
    if let Some(t) = &sig.unsafety {
        fail(
            t,
            "a `#[netns_test]` function cannot be `unsafe`; use `unsafe { ... }` blocks in its body",
        );
    }
    if let Some(abi) = &sig.abi {
        fail(abi, "a `#[netns_test]` function cannot be `extern`");
    }
    if !sig.generics.params.is_empty() {
        fail(
            &sig.generics,
            "a `#[netns_test]` function cannot be generic: the runtime calls it with a `&Net` and nothing else",
        );
    } else if let Some(w) = &sig.generics.where_clause {
        fail(w, "a `#[netns_test]` function cannot have a `where` clause");
    }
    if let Some(v) = &sig.variadic {
        fail(v, "a `#[netns_test]` function cannot be variadic");
    }

    let mut params = sig.inputs.iter();
    match params.next() {
        Some(FnArg::Receiver(r)) => fail(
            r,
            "a `#[netns_test]` function cannot take `self`: it must be a free function",
        ),
        Some(FnArg::Typed(p)) => {
            if let Some(message) = param_type_problem(&p.ty) {
                fail(&p.ty, message);
            }
        }
        None => {}
    }
    let extra: Vec<&FnArg> = params.collect();
    if !extra.is_empty() {
        let message = if extra.len() == 1 {
            "a `#[netns_test]` function takes at most one parameter, the `&Net`; remove this one"
        } else {
            "a `#[netns_test]` function takes at most one parameter, the `&Net`; remove these"
        };
        let extra = quote!(#(#extra),*);
        fail(&extra, message);
    }
    errors.finish()
}

/// What is wrong with the parameter's type, when it is plainly not `&Net`. Anything
/// subtler (a type alias, another type) is left to the type checker, whose error the
/// expansion points at this type.
fn param_type_problem(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => {
            Some("the parameter is `&Net`, not `&mut Net`: the network is shared")
        }
        Type::Path(p)
            if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Net") =>
        {
            Some("the parameter is `&Net`, a reference: add `&`")
        }
        Type::ImplTrait(_) => {
            Some("a `#[netns_test]` function cannot be generic: its parameter is `&Net`")
        }
        Type::Paren(p) => param_type_problem(&p.elem),
        _ => None,
    }
}

/// If `attr` makes the function a test by itself (or is a second `#[netns_test]`),
/// the message rejecting it.
fn test_attribute(attr: &Attribute) -> Option<String> {
    let path = match &attr.meta {
        Meta::Path(path) => path,
        Meta::List(list) => &list.path,
        // A `#[test]` written *above* `#[netns_test]` has already run and left no
        // trace on the function: it cannot be detected here.
        Meta::NameValue(_) => return None,
    };
    let last = path.segments.last()?.ident.to_string();
    match last.as_str() {
        "netns_test" => Some(
            "`#[netns_test]` is given twice; keep one (put every option in it: \
             `#[netns_test(topology = \"...\", ...)]`)"
                .into(),
        ),
        "test" => {
            let written = path_text(path);
            let mut message = remove_test(&written);
            if is_prelude_test(path) && path.leading_colon.is_some() {
                message.push_str(
                    " (this one may come from another test attribute above `#[netns_test]`, \
                     such as `#[tokio::test]`)",
                );
            } else if path.segments.len() > 1 && !is_prelude_test(path) {
                message.push_str(" (`#[netns_test]` runs `async` bodies itself)");
            }
            Some(message)
        }
        _ => None,
    }
}

/// The message rejecting a second test attribute.
fn remove_test(written: &str) -> String {
    format!("`#[netns_test]` already makes this function a test; remove `#[{written}]`")
}

/// `core::prelude::*::test` or `std::prelude::*::test`, with or without a leading `::`.
fn is_prelude_test(path: &Path) -> bool {
    let s: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    s.len() == 4 && (s[0] == "core" || s[0] == "std") && s[1] == "prelude" && s[3] == "test"
}

/// A path as written, without spaces: `tokio::test`.
fn path_text(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(item: TokenStream) -> Vec<String> {
        let f = parse(item).unwrap();
        match validate(&f) {
            Ok(()) => vec![],
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_the_supported_shapes() {
        for item in [
            quote!(
                fn a(net: &Net) {}
            ),
            quote!(
                fn a(_: &netns_test::Net) {}
            ),
            quote!(
                async fn a(net: &Net) -> Result<(), Box<dyn std::error::Error>> {
                    Ok(())
                }
            ),
            quote!(
                fn a() {}
            ),
            quote!(
                #[should_panic]
                #[ignore]
                pub fn a(mut net: &Net) {}
            ),
        ] {
            assert_eq!(problems(item), Vec::<String>::new());
        }
    }

    #[test]
    fn rejects_the_rest() {
        assert_eq!(
            problems(quote!(
                #[test]
                fn a(net: &Net) {}
            )),
            ["`#[netns_test]` already makes this function a test; remove `#[test]`"]
        );
        assert!(
            problems(quote!(
                #[tokio::test]
                async fn a() {}
            ))[0]
                .contains("`#[tokio::test]`")
        );
        assert!(
            problems(quote!(
                #[::core::prelude::v1::test]
                fn a() {}
            ))[0]
                .contains("tokio")
        );
        assert!(
            problems(quote!(
                #[netns_test(topology = "x")]
                fn a() {}
            ))[0]
                .contains("twice")
        );
        assert_eq!(
            problems(quote!(
                fn a<T>(net: &Net) {}
            ))
            .len(),
            1
        );
        assert_eq!(
            problems(quote!(
                fn a(net: &Net, b: u8, c: u8) {}
            ))
            .len(),
            1
        );
        assert_eq!(
            problems(quote!(
                const unsafe extern "C" fn a(net: &mut Net, b: u8) {}
            ))
            .len(),
            5
        );
        assert!(
            problems(quote!(
                fn a(net: Net) {}
            ))[0]
                .contains("add `&`")
        );
        assert!(
            problems(quote!(
                fn a(&self) {}
            ))[0]
                .contains("`self`")
        );
        assert!(
            problems(quote!(
                fn a(n: impl Sized) {}
            ))[0]
                .contains("generic")
        );
    }

    #[test]
    fn not_a_function() {
        let Err(e) = parse(quote!(
            struct S;
        )) else {
            panic!()
        };
        assert_eq!(e.to_string(), "`#[netns_test]` goes on a function");
    }

    #[test]
    fn as_written_drops_test_attributes() {
        let f = parse(quote!(
            #[test]
            #[ignore]
            fn a(net: &Net) {}
        ))
        .unwrap();
        let out = f.as_written().unwrap().to_string();
        assert!(!out.contains("test"), "{out}");
        assert!(out.contains("ignore"));
        assert!(
            parse(quote!(
                fn a(self) {}
            ))
            .unwrap()
            .as_written()
            .is_none()
        );
    }
}
