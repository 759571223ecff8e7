//! Append-only, repository-wide index documents (RubyGems' `versions`): every change appends a
//! line, so a document only grows and a client holding a prefix can fetch the rest with a Range
//! request. The latest id is the document's change stamp.

use super::time::now_millis;
use crate::db::Db;
use crate::db::entity::index_log;
use crate::error::AppError;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Appends one line (without newline) to a document.
pub async fn append(db: &Db, repo: &str, document: &str, line: &str) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    index_log::ActiveModel {
        repository: Set(repo.to_string()),
        document: Set(document.to_string()),
        line: Set(line.to_string()),
        created_at: Set(now_millis()),
        ..Default::default()
    }
    .insert(&db.conn)
    .await?;
    db.invalidate_rows();
    Ok(())
}

/// The id of the newest line (0 for an empty document): changes with every append.
pub async fn stamp(db: &Db, repo: &str, document: &str) -> Result<i64, AppError> {
    if let Some(stamp) = db.cached_log_stamp(repo, document) {
        return Ok(stamp);
    }
    let generation = db.row_generation();
    let newest: Option<i64> = index_log::Entity::find()
        .select_only()
        .column(index_log::Column::Id)
        .filter(index_log::Column::Repository.eq(repo))
        .filter(index_log::Column::Document.eq(document))
        .order_by_desc(index_log::Column::Id)
        .limit(1)
        .into_tuple()
        .one(&db.conn)
        .await?;
    let stamp = newest.unwrap_or(0);
    db.remember_log_stamp(generation, repo, document, stamp);
    Ok(stamp)
}

/// All lines in order, with the time of the first one (Unix ms) and the newest id.
pub async fn load(
    db: &Db,
    repo: &str,
    document: &str,
) -> Result<(Option<i64>, i64, Vec<String>), AppError> {
    let rows = index_log::Entity::find()
        .filter(index_log::Column::Repository.eq(repo))
        .filter(index_log::Column::Document.eq(document))
        .order_by_asc(index_log::Column::Id)
        .all(&db.conn)
        .await?;
    let first = rows.first().map(|r| r.created_at);
    let newest = rows.last().map_or(0, |r| r.id);
    Ok((first, newest, rows.into_iter().map(|r| r.line).collect()))
}
