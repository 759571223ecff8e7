//! Table-driven tests of the cargo codec through its public API.
//!
//! Fixtures are built in code (`support`): `.crate` files with `flate2` + `tar`, publish bodies
//! framed the way cargo 1.95 sends them, and a reader that hands them over 1 to 7 bytes at a time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod api;
mod crate_file;
mod group;
mod index;
mod names;
mod publish;
mod support;
mod validate;
mod version;
