//! `index_log`: lines of append-only repository-wide index documents.

use sea_orm::entity::prelude::*;

/// A row of `index_log`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "index_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository: String,
    /// Which document (`versions`).
    pub document: String,
    /// One line, without its newline.
    pub line: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
