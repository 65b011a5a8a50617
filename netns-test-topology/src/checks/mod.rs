//! Scenario checks: the `[[checks]]` of a topology file, read in [`read`], resolved
//! against the topology in [`resolve`], and described by the types in [`model`].

pub(crate) mod model;
pub(crate) mod read;
pub(crate) mod resolve;
