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
    db.changed().await;
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

/// Most rows one INSERT carries (PostgreSQL allows 65,535 bind parameters; a row has four).
const ROWS_PER_INSERT: usize = 1_000;

/// Inserts `lines` in order, all with the time `at`, through `conn` (a transaction).
async fn insert_lines(
    conn: &impl sea_orm::ConnectionTrait,
    repo: &str,
    document: &str,
    lines: &[String],
    at: i64,
) -> Result<(), AppError> {
    for chunk in lines.chunks(ROWS_PER_INSERT) {
        let rows = chunk.iter().map(|line| index_log::ActiveModel {
            repository: Set(repo.to_string()),
            document: Set(document.to_string()),
            line: Set(line.clone()),
            created_at: Set(at),
            ..Default::default()
        });
        index_log::Entity::insert_many(rows).exec(conn).await?;
    }
    Ok(())
}

/// Appends several lines (without newlines) in one transaction: readers see all of them or
/// none. Nothing happens for no lines.
pub async fn append_all(
    db: &Db,
    repo: &str,
    document: &str,
    lines: &[String],
) -> Result<(), AppError> {
    if lines.is_empty() {
        return Ok(());
    }
    use sea_orm::TransactionTrait;
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    insert_lines(&txn, repo, document, lines, now_millis()).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Replaces a document by `lines` in one transaction (a new generation of it): its lines are
/// deleted and the new ones get new ids, so its stamp changes and a reader sees the old
/// document or the new one, never a mix.
pub async fn replace(
    db: &Db,
    repo: &str,
    document: &str,
    lines: &[String],
) -> Result<(), AppError> {
    use sea_orm::TransactionTrait;
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    index_log::Entity::delete_many()
        .filter(index_log::Column::Repository.eq(repo))
        .filter(index_log::Column::Document.eq(document))
        .exec(&txn)
        .await?;
    insert_lines(&txn, repo, document, lines, now_millis()).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}
