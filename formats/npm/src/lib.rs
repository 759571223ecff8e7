#![doc = include_str!("../README.md")]

mod error;
pub mod group;
mod manifest;
mod names;
mod packument;
/// Upstream packuments as a proxy repository serves them.
pub mod proxy;
mod publish;
mod range;
mod search;
mod tarball;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod urlsafe;
mod version;

pub use error::error_body;
pub use manifest::stored_manifest;
pub use names::{NameError, basename, decode_name, tarball_filename, validate_new_name};
pub use packument::{
    Assembled, Dist, Entry, Head, PackageView, VersionView, assemble, latest_version,
    render_abbreviated, render_full, render_version, sort_in_semver_order, wants_abbreviated,
};
pub use publish::{
    PublishError, PublishRequest, PutKind, SplitBody, classify_put, deprecations, maintainer_names,
    parse_publish, remaining_versions, split_publish_body, verify_attachment,
};
pub use search::{
    MAX_SEARCH_TERMS, SearchError, SearchHit, SearchQuery, has_keywords, lower_keywords,
    manifest_keywords, parse_search_text, render_search, search_page,
};
pub use tarball::{
    TarballError, TarballInfo, TarballLimits, check_tarball_matches, inspect_tarball,
};
pub use version::{
    VersionError, retag_after_removal, sort_versions, validate_dist_tag, validate_version,
    version_identity,
};
