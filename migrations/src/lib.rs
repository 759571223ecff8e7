//! Versioned schema migrations for packgate. Each migration is plain SQL that runs on SQLite and
//! PostgreSQL alike; the only difference between the two is how an auto-incrementing key is spelled.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_init;
mod m20261122_000002_index_log;
mod m20261201_000003_owners;
mod m20261201_000004_tombstones;
mod m20261202_000005_proxy_documents;

/// Applies every migration in order (`packgate migrate`, and `packgate serve` at start-up).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_init::Migration),
            Box::new(m20261122_000002_index_log::Migration),
            Box::new(m20261201_000003_owners::Migration),
            Box::new(m20261201_000004_tombstones::Migration),
            Box::new(m20261202_000005_proxy_documents::Migration),
        ]
    }
}

/// The column type of an auto-incrementing 64-bit primary key on this backend.
pub(crate) fn id_column(backend: sea_orm::DatabaseBackend) -> &'static str {
    match backend {
        sea_orm::DatabaseBackend::Postgres => "BIGSERIAL PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY AUTOINCREMENT",
    }
}
