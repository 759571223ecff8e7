//! The one list of formats, and the pieces of HTTP handling they share.

pub mod cargo;
pub mod common;
pub mod npm;
pub mod nuget;
pub mod rubygems;

use crate::format::FormatModule;

/// Every format this build serves, by id.
pub fn modules() -> Vec<&'static dyn FormatModule> {
    vec![
        &npm::NpmModule,
        &cargo::CargoModule,
        &rubygems::RubygemsModule,
        &nuget::NugetModule,
    ]
}

/// The static id of a configured format name.
pub fn format_id(name: &str) -> Option<&'static str> {
    modules().into_iter().map(|m| m.id()).find(|id| *id == name)
}

/// The module of a format id (falls back to npm, the only one, for unknown ids; config validation
/// refuses those before this is reached).
pub fn module(id: &str) -> &'static dyn FormatModule {
    modules()
        .into_iter()
        .find(|m| m.id() == id)
        .unwrap_or(&npm::NpmModule)
}
