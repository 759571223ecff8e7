//! Shared services: they know the shared model (Package -> Version -> File -> Blob + Property),
//! users and tokens, and nothing of any wire format or of serving HTTP (the proxy's upstream
//! client is the one HTTP client).

pub mod auth;
pub mod blobs;
pub mod cache;
pub mod group;
pub mod index_log;
pub mod logins;
pub mod model;
pub mod owners;
pub mod packages;
pub mod proxy;
pub mod publish;
pub mod time;
