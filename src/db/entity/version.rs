//! `versions`: one published version of a package.

use sea_orm::entity::prelude::*;

/// A row of `versions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub package_id: i64,
    pub version: String,
    pub normalized_version: String,
    /// The format's metadata as published (JSON text).
    pub metadata: String,
    pub deprecated: Option<String>,
    pub yanked: bool,
    pub listed: bool,
    pub published_by: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
