//! Table-driven and fixture tests of the npm codec through its public API.
//!
//! Fixtures are built in code (`support`): tarballs with `flate2` + `tar`, publish bodies the
//! way npm 11 lays them out, and a reader that hands them over 1 to 7 bytes at a time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod group;
mod names;
mod publish_parse;
mod publish_split;
mod render;
mod rules;
mod search;
mod support;
mod tarball;
