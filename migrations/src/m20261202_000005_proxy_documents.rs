//! `proxy_documents`: the upstream documents a proxy repository cached (packuments, index files,
//! registrations), byte for byte as the upstream sent them, with the upstream's validators and
//! when they were fetched and last confirmed (`status` is 200; other values are reserved: an
//! upstream 404 is remembered in memory only, so made-up names cost no disk). Cached
//! files are ordinary package files (versions, files, blobs), written by the one write path.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let id = crate::id_column(backend);
        let bytes = match backend {
            sea_orm::DatabaseBackend::Postgres => "BYTEA",
            _ => "BLOB",
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE proxy_documents (
                id {id},
                repository TEXT NOT NULL,
                doc_key TEXT NOT NULL,
                package TEXT NOT NULL,
                status INTEGER NOT NULL,
                body {bytes},
                digest TEXT NOT NULL,
                upstream_etag TEXT,
                upstream_last_modified TEXT,
                fetched_at BIGINT NOT NULL,
                checked_at BIGINT NOT NULL,
                CONSTRAINT proxy_documents_key UNIQUE (repository, doc_key)
            )"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX proxy_documents_package ON proxy_documents (repository, package)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE proxy_documents")
            .await?;
        Ok(())
    }
}
