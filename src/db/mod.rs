//! Database connection and migrations (SQLite embedded by default, PostgreSQL in production).

pub mod entity;

use packgate_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// The connection pool plus, on SQLite, the in-process writer lock.
#[derive(Clone)]
pub struct Db {
    /// The pool.
    pub conn: DatabaseConnection,
    writer: Arc<Mutex<()>>,
    sqlite: bool,
}

impl Db {
    /// Connects; on SQLite creates the file and switches it to WAL so that the CLI and a running
    /// server can share it.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sea_orm::DbErr> {
        let sqlite = url.starts_with("sqlite:");
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p))
            && let Some(parent) = std::path::Path::new(path).parent()
        {
            let _ = std::fs::create_dir_all(parent);
        }
        let mut opts = ConnectOptions::new(url.to_string());
        opts.max_connections(max_connections.max(1))
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false);
        if sqlite {
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
            });
        }
        let conn = Database::connect(opts).await?;
        Ok(Db {
            conn,
            writer: Arc::new(Mutex::new(())),
            sqlite,
        })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), sea_orm::DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// Serializes write transactions inside this process on SQLite (which allows one writer and
    /// would otherwise fail concurrent upgrades with "database is locked"); free on PostgreSQL.
    pub async fn write_lock(&self) -> Option<MutexGuard<'_, ()>> {
        if self.sqlite {
            Some(self.writer.lock().await)
        } else {
            None
        }
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> bool {
        let backend = self.conn.get_database_backend();
        let stmt = sea_orm::Statement::from_string(backend, "SELECT 1");
        self.conn.execute_raw(stmt).await.is_ok()
    }

    /// The backend in use.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
}
