//! Table-driven and fixture tests of the NuGet codec through its public API: ids, versions,
//! ranges, the .nuspec reader, .nupkg reading and the v3 JSON documents.
//!
//! Fixtures are built in code: nuspec XML as string literals and `.nupkg` zips with `zip`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod documents;
mod group;
mod names;
mod nuspec;
mod package;
mod range;
mod version;
