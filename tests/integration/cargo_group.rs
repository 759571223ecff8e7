//! cargo group repositories (being written).
