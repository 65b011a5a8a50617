//! The `#[netns_test]` attribute. Use it through the `netns-test` crate.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

/// Stub.
#[proc_macro_attribute]
pub fn netns_test(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
