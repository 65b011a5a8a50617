//! netns-test (work in progress).
pub use netns_test_macros::netns_test;

/// The running topology (work in progress).
#[derive(Debug)]
pub struct Net {
    _p: (),
}

#[doc(hidden)]
pub mod __private;
