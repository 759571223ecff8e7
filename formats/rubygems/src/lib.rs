#![doc = include_str!("../README.md")]

pub mod api;
pub mod compact;
pub mod gem;
pub mod group;
pub mod marshal;
pub mod names;
pub mod proxy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod version;

pub use api::{owners_yaml, parse_yank_form, push_conflict, push_ok, yank_not_found, yank_ok};
pub use compact::{
    etag_md5, info_line, line_prefix_md5s, md5_hex, prefix_has_md5, render_info, render_names,
    render_versions, repr_digest, versions_line,
};
pub use gem::{GemDependency, GemError, GemLimits, GemSpec, parse_spec, read_gem};
pub use marshal::{quick_spec, quick_spec_marshal, specs_file, specs_marshal};
pub use names::{
    NameError, RUBY_PLATFORM, full_name, gem_file_name, similarity_key, validate_name,
    validate_platform, version_with_platform,
};
pub use version::{compare_versions, is_prerelease, validate_version, version_key};
