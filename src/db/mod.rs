//! Database connection and migrations (SQLite embedded by default, PostgreSQL in production).

pub mod entity;

use packgate_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// The connection pool plus, on SQLite, the in-process writer lock and row cache.
#[derive(Clone)]
pub struct Db {
    /// The pool.
    pub conn: DatabaseConnection,
    writer: Arc<Mutex<()>>,
    sections: Arc<Mutex<()>>,
    sqlite: bool,
    rows: Option<Arc<std::sync::Mutex<RowCache>>>,
}

/// Package rows and file lookups remembered by this process. Only used on SQLite, where this
/// process is the only writer of package data (the admin CLI writes users and tokens only), so
/// every change passes through [`Db::invalidate_rows`]. On PostgreSQL other instances write too,
/// and every read goes to the database.
#[derive(Default)]
pub struct RowCache {
    generation: u64,
    packages: HashMap<(String, String), entity::package::Model>,
    /// Names looked up and not found (a group asks its hosted members for every name).
    absent: std::collections::HashSet<(String, String)>,
    files: HashMap<(i64, String), (entity::file::Model, entity::blob::Model)>,
    /// Owners (user id, login) of a package at a change stamp (every owner change bumps it).
    owners: HashMap<i64, (i64, Vec<(i64, String)>)>,
    log_stamps: HashMap<(String, String), i64>,
}

const ROW_CACHE_LIMIT: usize = 100_000;

impl Db {
    /// Connects; on SQLite creates the file and switches it to WAL so that the CLI and a running
    /// server can share it. Use [`Db::open`] to also migrate.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sea_orm::DbErr> {
        let sqlite = url.starts_with("sqlite:");
        if let Some(path) = sqlite_file(url) {
            if let Some(parent) = path.parent() {
                let _ = create_private_dir(parent);
            }
            // Created owner-only (SQLite gives its -wal and -shm files the database's mode).
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path);
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
        let rows = sqlite.then(|| Arc::new(std::sync::Mutex::new(RowCache::default())));
        Ok(Db {
            conn,
            writer: Arc::new(Mutex::new(())),
            sections: Arc::new(Mutex::new(())),
            sqlite,
            rows,
        })
    }

    /// Connects and applies pending migrations: what every process (the server and each admin
    /// command) does before it uses the database. On SQLite the connect (which switches a new file
    /// to WAL) and the migrations run under an exclusive lock on `<database file>.lock`, so a
    /// server and an admin command started at the same moment on a new data dir take turns
    /// instead of failing with "table already exists" or "database is locked".
    pub async fn open(url: &str, max_connections: u32) -> Result<Db, sea_orm::DbErr> {
        let lock = match sqlite_file(url) {
            Some(path) => Some(lock_file(path).await?),
            None => None,
        };
        let db = Db::connect(url, max_connections).await?;
        db.migrate().await?;
        drop(lock);
        Ok(db)
    }

    /// Applies pending migrations. On PostgreSQL this holds an advisory lock for the whole run, so
    /// that instances starting at the same moment apply each migration once (on SQLite, see
    /// [`Db::open`]).
    pub async fn migrate(&self) -> Result<(), sea_orm::DbErr> {
        use sea_orm::TransactionTrait;
        if self.backend() != DbBackend::Postgres {
            return Migrator::up(&self.conn, None).await;
        }
        let txn = self.conn.begin().await?;
        // Any fixed key works; this one spells "packgate" in ASCII.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(8097880040289248357)")
            .await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await
    }

    /// Enters a critical section named by `key`, across this process (a mutex) and, on
    /// PostgreSQL, across every instance (a transaction-scoped advisory lock, held until the
    /// returned transaction ends). Use it for read-then-append sequences whose last writer must
    /// have seen every earlier commit.
    pub async fn critical_section(&self, key: i64) -> Result<Section<'_>, sea_orm::DbErr> {
        use sea_orm::TransactionTrait;
        let local = self.sections.lock().await;
        let txn = if self.backend() == DbBackend::Postgres {
            let txn = self.conn.begin().await?;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
                .await?;
            Some(txn)
        } else {
            None
        };
        Ok(Section { _local: local, txn })
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

    fn with_rows<T>(&self, f: impl FnOnce(&mut RowCache) -> T) -> Option<T> {
        let rows = self.rows.as_ref()?;
        let mut guard = rows.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut guard))
    }

    /// The generation to pass to the `remember_*` calls after a database read.
    pub fn row_generation(&self) -> u64 {
        self.with_rows(|r| r.generation).unwrap_or(0)
    }

    /// A remembered package row.
    pub fn cached_package(&self, repo: &str, name: &str) -> Option<entity::package::Model> {
        self.with_rows(|r| {
            r.packages
                .get(&(repo.to_string(), name.to_string()))
                .cloned()
        })
        .flatten()
    }

    /// Whether `name` was looked up in `repo` and not found since the last change.
    pub fn known_absent(&self, repo: &str, name: &str) -> bool {
        self.with_rows(|r| r.absent.contains(&(repo.to_string(), name.to_string())))
            .unwrap_or(false)
    }

    /// Remembers that `name` is not in `repo`, as read at `generation`.
    pub fn remember_absent(&self, generation: u64, repo: &str, name: &str) {
        self.with_rows(|r| {
            if r.generation == generation {
                if r.absent.len() >= ROW_CACHE_LIMIT {
                    r.absent.clear();
                }
                r.absent.insert((repo.to_string(), name.to_string()));
            }
        });
    }

    /// Remembers a package row read at `generation` (ignored if anything changed since).
    pub fn remember_package(&self, generation: u64, row: &entity::package::Model) {
        self.with_rows(|r| {
            if r.generation == generation {
                if r.packages.len() >= ROW_CACHE_LIMIT {
                    r.packages.clear();
                }
                r.packages.insert(
                    (row.repository.clone(), row.normalized_name.clone()),
                    row.clone(),
                );
            }
        });
    }

    /// Remembered owners of a package at change stamp `stamp`.
    pub fn cached_owners(&self, package_id: i64, stamp: i64) -> Option<Vec<(i64, String)>> {
        self.with_rows(|r| {
            r.owners
                .get(&package_id)
                .filter(|(s, _)| *s == stamp)
                .map(|(_, o)| o.clone())
        })
        .flatten()
    }

    /// Remembers a package's owners read at `generation` for its change stamp `stamp`.
    pub fn remember_owners(
        &self,
        generation: u64,
        package_id: i64,
        stamp: i64,
        owners: &[(i64, String)],
    ) {
        self.with_rows(|r| {
            if r.generation == generation {
                if r.owners.len() >= ROW_CACHE_LIMIT {
                    r.owners.clear();
                }
                r.owners.insert(package_id, (stamp, owners.to_vec()));
            }
        });
    }

    /// A remembered file lookup (package id, file name).
    pub fn cached_file(
        &self,
        package_id: i64,
        name: &str,
    ) -> Option<(entity::file::Model, entity::blob::Model)> {
        self.with_rows(|r| r.files.get(&(package_id, name.to_string())).cloned())
            .flatten()
    }

    /// Remembers a file lookup read at `generation`.
    pub fn remember_file(
        &self,
        generation: u64,
        package_id: i64,
        hit: &(entity::file::Model, entity::blob::Model),
    ) {
        self.with_rows(|r| {
            if r.generation == generation {
                if r.files.len() >= ROW_CACHE_LIMIT {
                    r.files.clear();
                }
                r.files
                    .insert((package_id, hit.0.name.clone()), hit.clone());
            }
        });
    }

    /// A remembered newest id of an index-log document.
    pub fn cached_log_stamp(&self, repo: &str, document: &str) -> Option<i64> {
        self.with_rows(|r| {
            r.log_stamps
                .get(&(repo.to_string(), document.to_string()))
                .copied()
        })
        .flatten()
    }

    /// Remembers the newest id of an index-log document read at `generation`.
    pub fn remember_log_stamp(&self, generation: u64, repo: &str, document: &str, stamp: i64) {
        self.with_rows(|r| {
            if r.generation == generation {
                r.log_stamps
                    .insert((repo.to_string(), document.to_string()), stamp);
            }
        });
    }

    /// Forgets every remembered row; called after each committed change to package data.
    pub fn invalidate_rows(&self) {
        self.with_rows(|r| {
            r.generation += 1;
            r.packages.clear();
            r.absent.clear();
            r.files.clear();
            r.owners.clear();
            r.log_stamps.clear();
        });
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

/// Creates a directory (and its parents) that only its owner may enter (0700); an existing
/// directory keeps its mode.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The database file of a `sqlite://` URL (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<&std::path::Path> {
    let path = url.strip_prefix("sqlite://")?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| std::path::Path::new(path))
}

/// Takes an exclusive lock on `<file>.lock` (waiting for other processes), held until dropped.
async fn lock_file(db_file: &std::path::Path) -> Result<std::fs::File, sea_orm::DbErr> {
    let mut name = db_file.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let fail =
        |e: std::io::Error| sea_orm::DbErr::Custom(format!("cannot lock {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        create_private_dir(parent).map_err(fail)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(fail)?;
    let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .map_err(fail)?;
    Ok(file)
}

/// A held critical section (see [`Db::critical_section`]); released on [`Section::end`] or drop.
pub struct Section<'a> {
    _local: MutexGuard<'a, ()>,
    txn: Option<sea_orm::DatabaseTransaction>,
}

impl Section<'_> {
    /// Releases the section.
    pub async fn end(self) -> Result<(), sea_orm::DbErr> {
        if let Some(txn) = self.txn {
            txn.commit().await?;
        }
        Ok(())
    }
}
