//! nuget group repositories (being written).
