//! rubygems group repositories (being written).
