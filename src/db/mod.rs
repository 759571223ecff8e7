//! Database connection and migrations (SQLite embedded by default, PostgreSQL in production).

pub mod entity;

use packgate_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// The connection pool plus the in-process writer lock (SQLite) and the row cache.
#[derive(Clone)]
pub struct Db {
    /// The pool.
    pub conn: DatabaseConnection,
    writer: Arc<Mutex<()>>,
    sections: Arc<Mutex<()>>,
    sqlite: bool,
    rows: Arc<std::sync::Mutex<RowCache>>,
    /// On PostgreSQL: whether this process hears the other instances' changes.
    shared: Option<Arc<Shared>>,
}

/// The PostgreSQL channel on which every instance announces its committed changes to package
/// data (after the commit, before the write's response), and listens for the others'.
pub const CHANGES_CHANNEL: &str = "packgate_changes";

/// The channel on which each instance acknowledges a change it heard (and forgot its rows for);
/// the payload names the announcing instance and its sequence number.
pub const ACKS_CHANNEL: &str = "packgate_acks";

/// The `application_name` of the listening connections: counting them in `pg_stat_activity`
/// tells a writer how many acknowledgements to wait for.
const LISTENER_NAME: &str = "packgate-changes";

/// How long remembered rows are trusted on PostgreSQL without a change heard: the bound on
/// staleness should a notification ever be lost unnoticed.
const SHARED_ROWS_TTL: Duration = Duration::from_secs(5);

/// How long a write waits for the instances' acknowledgements before answering anyway.
const ACK_WAIT: Duration = Duration::from_secs(2);

/// A std mutex's guard, whether or not a holder panicked.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a PostgreSQL deployment's row cache depends on.
struct Shared {
    /// Set while the listening connection is up; rows are neither used nor remembered
    /// otherwise.
    listening: std::sync::atomic::AtomicBool,
    /// This process in the notifications' payloads (`{instance}:{sequence}`).
    instance: String,
    /// The sequence number of this process's last announcement.
    sent: std::sync::atomic::AtomicU64,
    /// Per announcement of this process waiting for them: how many instances acknowledged it.
    acks: std::sync::Mutex<HashMap<u64, usize>>,
    /// Woken on every acknowledgement of this process's announcements.
    acked: tokio::sync::Notify,
}

/// Package rows and file lookups remembered by this process. On SQLite this process is the only
/// writer of package data (the admin CLI writes users and tokens only), so every change passes
/// through [`Db::invalidate_rows`]. On PostgreSQL other instances write too: each announces its
/// changes on [`CHANGES_CHANNEL`] ([`Db::changed`]) and every instance forgets its rows when it
/// hears one ([`Db::listen_for_changes`]), when its listening connection drops, and every
/// [`SHARED_ROWS_TTL`].
#[derive(Default)]
pub struct RowCache {
    generation: u64,
    /// When the rows were last all forgotten.
    since: Option<std::time::Instant>,
    packages: HashMap<(String, String), entity::package::Model>,
    /// Names looked up and not found (a group asks its hosted members for every name).
    absent: std::collections::HashSet<(String, String)>,
    files: HashMap<(i64, String), (entity::file::Model, entity::blob::Model)>,
    /// Owners (user id, login) of a package at a change stamp (every owner change bumps it).
    owners: HashMap<i64, (i64, Vec<(i64, String)>)>,
    log_stamps: HashMap<(String, String), i64>,
}

const ROW_CACHE_LIMIT: usize = 100_000;

impl RowCache {
    /// Forgets everything; reads begun before (an older generation) are not remembered.
    fn forget(&mut self) {
        self.generation += 1;
        self.since = Some(std::time::Instant::now());
        self.packages.clear();
        self.absent.clear();
        self.files.clear();
        self.owners.clear();
        self.log_stamps.clear();
    }
}

/// A random name for this process in its announcements (the PID is not unique across hosts).
fn instance_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    format!("{:016x}:{}", u64::from_le_bytes(b), std::process::id()).replace(':', "-")
}

/// The listening loop of [`Db::listen_for_changes`].
async fn listen(db: Db, shared: Arc<Shared>, url: String) {
    use std::sync::atomic::Ordering;
    let mut lost = false;
    loop {
        match listener(&url).await {
            Ok(mut l) => {
                if lost {
                    tracing::info!("listening for other instances' changes again");
                }
                db.invalidate_rows();
                shared.listening.store(true, Ordering::Release);
                // `try_recv` answers `None` when the connection dropped (what was sent meanwhile
                // is gone): forget everything then, and connect again.
                while let Ok(Some(n)) = l.try_recv().await {
                    if n.channel() == ACKS_CHANNEL {
                        acknowledged(&shared, n.payload());
                        continue;
                    }
                    db.invalidate_rows();
                    let ack = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(ACKS_CHANNEL)
                        .bind(n.payload())
                        .execute(&mut l)
                        .await;
                    if let Err(e) = ack {
                        tracing::warn!(error = %e, "could not acknowledge a change");
                        break;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not listen for other instances' changes");
            }
        }
        shared.listening.store(false, Ordering::Release);
        db.invalidate_rows();
        // Writes waiting for acknowledgements from this process's listener stop waiting.
        lock(&shared.acks).clear();
        shared.acked.notify_waiters();
        if !lost {
            tracing::warn!(
                "not listening for other instances' changes: every read goes to the database until it is back"
            );
        }
        lost = true;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A listening connection (named [`LISTENER_NAME`]) on both channels.
async fn listener(url: &str) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
    let options: PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options.application_name(LISTENER_NAME));
    let mut l = PgListener::connect_with(&pool).await?;
    l.listen_all([CHANGES_CHANNEL, ACKS_CHANNEL]).await?;
    Ok(l)
}

/// Counts an acknowledgement (`{instance}:{sequence}`) of one of this process's announcements.
fn acknowledged(shared: &Shared, payload: &str) {
    if let Some((instance, seq)) = payload.split_once(':')
        && instance == shared.instance
        && let Ok(seq) = seq.parse::<u64>()
        && let Some(n) = lock(&shared.acks).get_mut(&seq)
    {
        *n += 1;
        shared.acked.notify_waiters();
    }
}

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
        let postgres = conn.get_database_backend() == DbBackend::Postgres;
        Ok(Db {
            conn,
            writer: Arc::new(Mutex::new(())),
            sections: Arc::new(Mutex::new(())),
            sqlite,
            rows: Arc::new(std::sync::Mutex::new(RowCache::default())),
            // Until `listen_for_changes` hears the others, rows are not remembered.
            shared: postgres.then(|| {
                Arc::new(Shared {
                    listening: std::sync::atomic::AtomicBool::new(false),
                    instance: instance_id(),
                    sent: std::sync::atomic::AtomicU64::new(0),
                    acks: std::sync::Mutex::new(HashMap::new()),
                    acked: tokio::sync::Notify::new(),
                })
            }),
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
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = &self.shared {
            if !shared.listening.load(std::sync::atomic::Ordering::Acquire) {
                return None;
            }
            if rows.since.is_none_or(|t| t.elapsed() > SHARED_ROWS_TTL) {
                rows.forget();
            }
        }
        Some(f(&mut rows))
    }

    /// Announces a committed change to package data: forgets this process's rows and, on
    /// PostgreSQL, tells every instance listening (this one too) and waits until each has
    /// acknowledged that it forgot its rows, so that a client reading from any instance after
    /// this write's response finds the change. An instance that does not acknowledge within
    /// [`ACK_WAIT`] is logged and not waited for longer (its rows expire within
    /// [`SHARED_ROWS_TTL`]).
    pub async fn changed(&self) {
        use std::sync::atomic::Ordering;
        self.invalidate_rows();
        let Some(shared) = &self.shared else {
            return;
        };
        let seq = shared.sent.fetch_add(1, Ordering::AcqRel) + 1;
        if shared.listening.load(Ordering::Acquire) {
            lock(&shared.acks).insert(seq, 0);
        }
        // One round trip: the announcement and how many instances listen for it.
        let stmt = sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2) IS NULL AS sent, \
             (SELECT count(*) FROM pg_stat_activity \
              WHERE datname = current_database() AND application_name = $3) AS listeners",
            [
                CHANGES_CHANNEL.into(),
                format!("{}:{seq}", shared.instance).into(),
                LISTENER_NAME.into(),
            ],
        );
        let listeners = match self.conn.query_one_raw(stmt).await {
            Ok(Some(row)) => row.try_get::<i64>("", "listeners").unwrap_or(0),
            Ok(None) => 0,
            Err(e) => {
                tracing::warn!(error = %e, "could not announce a change to the other instances; they see it within {} s", SHARED_ROWS_TTL.as_secs());
                0
            }
        };
        let wanted = usize::try_from(listeners).unwrap_or(0);
        let all_acked = async {
            loop {
                let woken = shared.acked.notified();
                if lock(&shared.acks).get(&seq).is_none_or(|n| *n >= wanted) {
                    return;
                }
                woken.await;
            }
        };
        if tokio::time::timeout(ACK_WAIT, all_acked).await.is_err() {
            tracing::warn!(
                listeners,
                acknowledged = lock(&shared.acks).get(&seq).copied().unwrap_or(0),
                "not every instance acknowledged a change within {} ms",
                ACK_WAIT.as_millis()
            );
        }
        lock(&shared.acks).remove(&seq);
    }

    /// On PostgreSQL, listens on [`CHANGES_CHANNEL`] for the changes of every instance (this
    /// one's too), forgetting the remembered rows on each, on a thread of its own so that busy
    /// workers do not delay it. Rows are remembered only while the connection is up; after it
    /// drops (notifications may have been missed) everything is forgotten and it reconnects.
    /// Nothing on SQLite.
    pub fn listen_for_changes(&self, url: &str) -> std::io::Result<()> {
        let Some(shared) = self.shared.clone() else {
            return Ok(());
        };
        let (db, url) = (self.clone(), url.to_string());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("packgate-changes".into())
            .spawn(move || runtime.block_on(listen(db, shared, url)))?;
        Ok(())
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

    /// Forgets every remembered row (see [`Db::changed`], which also tells other instances).
    pub fn invalidate_rows(&self) {
        self.rows.lock().unwrap_or_else(|e| e.into_inner()).forget();
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
