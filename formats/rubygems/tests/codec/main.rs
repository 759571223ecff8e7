//! Table-driven tests of the RubyGems codec through its public API.
//!
//! Fixtures: two real `gem build` files of RubyGems 3.3.15 in `tests/fixtures/`; everything
//! broken or hostile is built in code (`support`) with `tar` and `flate2`. Marshal output is
//! checked byte by byte, walked against the SafeMarshal allow-list (`safe_marshal`), and loaded
//! in Ruby when it is installed (`ruby`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod api;
mod compact;
mod gem;
mod group;
mod marshal;
mod names;
mod ruby;
mod safe_marshal;
mod spec;
mod support;
mod version;
