//! `tokens`: API tokens, stored as SHA-256 hashes.

use sea_orm::entity::prelude::*;

/// A row of `tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The first characters of the token, for display.
    pub prefix: String,
    pub name: Option<String>,
    /// Comma-separated scopes: read, publish, delete, admin.
    pub scopes: String,
    /// Comma-separated repository names the token is limited to; `None` for all.
    pub repositories: Option<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The token's user (one join resolves a token to its principal).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
