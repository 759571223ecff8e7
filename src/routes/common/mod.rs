//! HTTP pieces every format shares: credentials, conditional GET, blob responses.

pub mod auth;
pub mod blob;
pub mod ctx;
pub mod doc;
pub mod etag;
pub mod explain;
pub mod group;
pub mod proxy;
pub mod query;
