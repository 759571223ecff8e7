//! The integration test binary: starts the real `packgate` binary on 127.0.0.1 and talks to it with
//! plain HTTP (ureq, or raw sockets where the reason phrase matters) and with the real npm, cargo,
//! gem/bundle and NuGet.exe (mono) clients.
//!
//! Stack selection (see `support::server`): SQLite + filesystem under a temp dir by default;
//! PostgreSQL when `PACKGATE_TEST_DATABASE_URL` is set; S3 when `PACKGATE_TEST_S3_ENDPOINT` is set.
//! Tests that need a tool that is missing print `SKIP: ...` and return (they fail instead when
//! `PACKGATE_TEST_REQUIRE_CLIENTS=1`, as in CI).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod support;

mod auth_limits;
mod authz;
mod cargo_cli;
mod cargo_group;
mod cargo_http;
mod cargo_proxy;
mod core;
mod npm_cli;
mod npm_group;
mod npm_hardening;
mod npm_http;
mod npm_proxy;
mod nuget_cli;
mod nuget_group;
mod nuget_http;
mod nuget_proxy;
mod owners;
mod owners_cli;
mod rubygems_cli;
mod rubygems_group;
mod rubygems_http;
mod rubygems_proxy;
mod scale;
