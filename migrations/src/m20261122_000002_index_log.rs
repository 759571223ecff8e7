//! `index_log`: append-only repository-wide index documents (the RubyGems compact index
//! `versions` file is one), so that clients can fetch only what was appended (HTTP Range) and
//! every instance serves the same bytes. Also indexes file names.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let id = crate::id_column(manager.get_database_backend());
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE index_log (
                id {id},
                repository TEXT NOT NULL,
                document TEXT NOT NULL,
                line TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX index_log_document ON index_log (repository, document, id)",
        )
        .await?;
        // Formats that address files by name across a repository (RubyGems' gems/FILE.gem).
        db.execute_unprepared("CREATE INDEX files_name ON files (name)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX files_name")
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE index_log")
            .await?;
        Ok(())
    }
}
