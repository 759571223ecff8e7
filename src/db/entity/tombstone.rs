//! `tombstones`: versions that were removed; their identity may never be published again.

use sea_orm::entity::prelude::*;

/// A row of `tombstones`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tombstones")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository: String,
    pub normalized_name: String,
    pub normalized_version: String,
    /// The version as it was published.
    pub version: String,
    pub removed_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
