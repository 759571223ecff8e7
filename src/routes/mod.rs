//! The one list of formats, and the pieces of HTTP handling they share.

pub mod api;
pub mod cargo;
pub mod common;
pub mod npm;
pub mod nuget;
pub mod rubygems;

use crate::format::{Format, FormatModule};

/// The module serving a format.
pub fn module(format: Format) -> &'static dyn FormatModule {
    match format {
        Format::Npm => &npm::NpmModule,
        Format::Cargo => &cargo::CargoModule,
        Format::Rubygems => &rubygems::RubygemsModule,
        Format::Nuget => &nuget::NugetModule,
    }
}
