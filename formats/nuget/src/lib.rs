#![doc = include_str!("../README.md")]

pub mod documents;
pub mod group;
pub mod names;
pub mod nuspec;
pub mod package;
pub mod proxy;
pub mod range;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod version;

pub use documents::{
    AlternatePackage, Deprecation, RegEntry, SearchHit, autocomplete_ids, autocomplete_versions,
    error_body, flat_versions, matches_query, registration_index, registration_leaf,
    registration_page, search_response, service_index,
};
pub use names::{IdError, MAX_ID_LEN, lower_id, validate_id};
pub use nuspec::{
    Dependency, DependencyGroup, License, Nuspec, NuspecError, PackageType, Repository,
    parse_nuspec,
};
pub use package::{PackageError, PackageLimits, ReadPackage, read_package};
pub use range::VersionRange;
pub use version::{NuGetVersion, VersionError};
