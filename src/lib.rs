//! packgate: a self-hosted package gateway speaking the native registry protocols.
//!
//! Layers (see `docs/ARCHITECTURE.md`): `routes/<fmt>` -> `formats/<fmt>` (pure codecs) and
//! `services` -> `db` + `store`.

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod format;
pub mod observe;
pub mod routes;
pub mod server;
pub mod services;
pub mod state;
pub mod store;
