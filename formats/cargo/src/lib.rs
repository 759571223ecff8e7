#![doc = include_str!("../README.md")]

pub mod api;
pub mod crate_file;
pub mod group;
pub mod index;
pub mod names;
pub mod proxy;
pub mod publish;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod version;

pub use api::{
    SearchHit, config_json, error_body, owners_changed, parse_owner_request, publish_ok,
    render_owners, render_search, yank_ok,
};
pub use crate_file::{CrateError, CrateInfo, CrateLimits, inspect_crate};
pub use index::{IndexDep, IndexEntry, index_entry, render_index};
pub use names::{NameError, canonical_name, index_path, name_from_index_path, validate_name};
pub use publish::{PublishDep, PublishError, PublishMeta, read_publish, validate_meta};
pub use version::{
    VersionError, search_version, validate_rust_version, validate_version, version_identity,
};
