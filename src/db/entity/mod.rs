//! One plain sea-orm entity per table; no logic here (the services own the invariants).

pub mod blob;
pub mod file;
pub mod index_log;
pub mod package;
pub mod property;
pub mod proxy_document;
pub mod token;
pub mod tombstone;
pub mod user;
pub mod version;
