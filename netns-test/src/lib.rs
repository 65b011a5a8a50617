//! netns-test (stub).
pub use netns_test_macros::netns_test;
