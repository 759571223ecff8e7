//! The shared model: packages, versions, files, blobs, properties; users and tokens.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let id = crate::id_column(manager.get_database_backend());
        let statements = [
            format!(
                "CREATE TABLE packages (
                    id {id},
                    repository TEXT NOT NULL,
                    format TEXT NOT NULL,
                    name TEXT NOT NULL,
                    normalized_name TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    change_stamp BIGINT NOT NULL,
                    CONSTRAINT packages_repo_name UNIQUE (repository, normalized_name)
                )"
            ),
            format!(
                "CREATE TABLE versions (
                    id {id},
                    package_id BIGINT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
                    version TEXT NOT NULL,
                    normalized_version TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    deprecated TEXT NULL,
                    yanked BOOLEAN NOT NULL DEFAULT FALSE,
                    listed BOOLEAN NOT NULL DEFAULT TRUE,
                    published_by BIGINT NULL,
                    created_at BIGINT NOT NULL,
                    CONSTRAINT versions_package_version UNIQUE (package_id, normalized_version)
                )"
            ),
            "CREATE TABLE blobs (
                sha256 TEXT PRIMARY KEY,
                size BIGINT NOT NULL,
                sha1 TEXT NOT NULL,
                sha512 TEXT NOT NULL,
                md5 TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )"
            .to_string(),
            format!(
                "CREATE TABLE files (
                    id {id},
                    version_id BIGINT NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    blob_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
                    created_at BIGINT NOT NULL,
                    CONSTRAINT files_version_name UNIQUE (version_id, name)
                )"
            ),
            "CREATE INDEX files_blob ON files (blob_sha256)".to_string(),
            format!(
                "CREATE TABLE properties (
                    id {id},
                    package_id BIGINT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
                    version_id BIGINT NULL REFERENCES versions(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    value TEXT NOT NULL
                )"
            ),
            "CREATE INDEX properties_package ON properties (package_id, name)".to_string(),
            format!(
                "CREATE TABLE users (
                    id {id},
                    name TEXT NOT NULL UNIQUE,
                    email TEXT NULL,
                    password_hash TEXT NULL,
                    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
                    created_at BIGINT NOT NULL
                )"
            ),
            format!(
                "CREATE TABLE tokens (
                    id {id},
                    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    token_hash TEXT NOT NULL UNIQUE,
                    prefix TEXT NOT NULL,
                    name TEXT NULL,
                    scopes TEXT NOT NULL,
                    repositories TEXT NULL,
                    expires_at BIGINT NULL,
                    created_at BIGINT NOT NULL
                )"
            ),
        ];
        let db = manager.get_connection();
        for sql in statements {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for t in [
            "tokens",
            "users",
            "properties",
            "files",
            "blobs",
            "versions",
            "packages",
        ] {
            db.execute_unprepared(&format!("DROP TABLE {t}")).await?;
        }
        Ok(())
    }
}
