//! `packages`: a name in a repository, unique by its normalized form.

use sea_orm::entity::prelude::*;

/// A row of `packages`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "packages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository: String,
    pub format: String,
    pub name: String,
    pub normalized_name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every change to the package, its versions or properties; keys rendered caches.
    pub change_stamp: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
