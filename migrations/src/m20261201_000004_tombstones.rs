//! `tombstones`: every version that was removed (npm unpublish, a whole package unpublished), so
//! that a name and version, once published, never stands for other bytes: a later publish of the
//! same normalized name and version is refused like a duplicate.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let id = crate::id_column(manager.get_database_backend());
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE tombstones (
                id {id},
                repository TEXT NOT NULL,
                normalized_name TEXT NOT NULL,
                normalized_version TEXT NOT NULL,
                version TEXT NOT NULL,
                removed_at BIGINT NOT NULL,
                CONSTRAINT tombstones_identity UNIQUE (repository, normalized_name, normalized_version)
            )"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE tombstones")
            .await?;
        Ok(())
    }
}
