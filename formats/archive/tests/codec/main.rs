//! Tests of the bounded archive reader through its public API.
//!
//! Fixtures are built in code with the crate's `testing` builders (gzip, tar archives with
//! hostile entries, and a reader that hands bytes over a few at a time).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod archive;
mod path;
