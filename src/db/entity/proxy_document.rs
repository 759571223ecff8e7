//! `proxy_documents`: upstream documents cached by proxy repositories.

use sea_orm::entity::prelude::*;

/// A row of `proxy_documents`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proxy_documents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository: String,
    /// The document's cache key inside the repository (format-chosen).
    pub doc_key: String,
    /// The package it belongs to (its lookup name), or empty for repository-wide documents.
    pub package: String,
    /// 200 (other values are reserved).
    pub status: i32,
    #[sea_orm(column_type = "Blob", nullable)]
    pub body: Option<Vec<u8>>,
    /// Lower-case hex SHA-256 of the body (empty for a 404).
    pub digest: String,
    pub upstream_etag: Option<String>,
    pub upstream_last_modified: Option<String>,
    /// When the body was last fetched (ms since the epoch).
    pub fetched_at: i64,
    /// When the upstream last confirmed it (a 200 or a 304).
    pub checked_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
