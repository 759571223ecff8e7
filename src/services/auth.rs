//! Users, tokens and authorization. Passwords are Argon2id hashes; tokens are stored as SHA-256
//! hashes with scopes, an optional repository restriction and an optional expiry.
//!
//! Password checks are guarded (see [`check_password_from`]), because every `Basic user:password`
//! on any route costs an Argon2 run (~19 MiB, ~30 ms of CPU):
//! - at most [`max_argon2_runs`] Argon2 runs at a time, process-wide (hashing included), each in
//!   a reused working memory, so Argon2 memory stays at most that many times 19 MiB; other checks
//!   wait for a slot;
//! - after [`USER_FAILURE_LIMIT`] failed checks for one user name, or [`ADDRESS_FAILURE_LIMIT`]
//!   from one client address (IPv6: its /64), within [`FAILURE_WINDOW`], further password checks
//!   for it answer 429 with `Retry-After` until the window has passed, without running Argon2,
//!   even with the right password (tokens are unaffected). Checks still in flight count toward
//!   these limits as well, so a burst cannot queue more checks than the limit allows; a
//!   credential counts once however many requests carry it at the same time, and those requests
//!   take turns, so that only the first runs Argon2;
//! - the outcome of a check is remembered for [`REMEMBER_TTL`] under a keyed SHA-256 of the user
//!   name and password (never the password itself): clients that send the password with every
//!   request (Bundler, NuGet) pay for Argon2 once, and a client repeating the same wrong password
//!   costs one Argon2 run and counts as one failure (guessing needs different passwords). The
//!   outcome is bound to the user's id and a digest of the stored hash, both read on every
//!   request: a removed user or a changed password stops matching at once; in any case an
//!   outcome is forgotten after [`REMEMBER_TTL`];
//! - an unknown user (or one without a password) is checked against a fixed dummy hash made once,
//!   so it costs what a wrong password costs.
//!
//! Every map is capped at [`MAX_TRACKED`] entries (idle or expired ones are dropped first, then
//! the oldest). The state is process-wide, like the memory and cores it protects. Argon2 runs are
//! logged at debug level (`argon2 password check`), 429s start with a warning.

use super::time::now_millis;
use crate::db::Db;
use crate::db::entity::{token, user};
use crate::error::AppError;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A stored token as the token endpoints list it (the clear token is never stored).
pub type Token = token::Model;

/// What a token or user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read metadata and download files.
    Read,
    /// Publish new versions, change tags and deprecations.
    Publish,
    /// Unpublish, yank, delete.
    Delete,
    /// Manage users and tokens.
    Admin,
}

impl Scope {
    /// Parses `read`, `publish`, `delete` or `admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s.trim() {
            "read" => Some(Scope::Read),
            "publish" | "write" => Some(Scope::Publish),
            "delete" | "yank" => Some(Scope::Delete),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Publish => "publish",
            Scope::Delete => "delete",
            Scope::Admin => "admin",
        }
    }
}

/// Parses a comma-separated scope list.
pub fn parse_scopes(s: &str) -> Result<Vec<Scope>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            Scope::parse(p).ok_or_else(|| {
                format!("unknown scope {p:?} (expected read, publish, delete or admin)")
            })
        })
        .collect()
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User id.
    pub user_id: i64,
    /// User name.
    pub user_name: String,
    /// User e-mail.
    pub email: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Repositories the credential is limited to (`None`: all).
    pub repos: Option<Vec<String>>,
    /// The token used, if any.
    pub token_id: Option<i64>,
}

impl Principal {
    /// Whether this credential carries a scope (admin implies every scope).
    pub fn has(&self, s: Scope) -> bool {
        self.scopes.contains(&s) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether this credential may act on a repository.
    pub fn allows_repo(&self, repo: &str) -> bool {
        self.repos
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| x == repo))
    }
}

/// The rights a user has (and a token without `--scope` carries).
pub fn user_scopes(u: &user::Model) -> Vec<Scope> {
    let mut s = vec![Scope::Read, Scope::Publish, Scope::Delete];
    if u.is_admin {
        s.push(Scope::Admin);
    }
    s
}

/// Checks that `who` may perform `action` on `repo` (whose anonymous reads may be allowed).
pub fn authorize(
    who: Option<&Principal>,
    repo: &str,
    anonymous_read: bool,
    action: Scope,
) -> Result<(), AppError> {
    if action == Scope::Read && anonymous_read {
        return Ok(());
    }
    let Some(p) = who else {
        return Err(AppError::Unauthorized(
            "authentication required: this action needs a token".into(),
        ));
    };
    if !p.allows_repo(repo) {
        return Err(AppError::Forbidden(format!(
            "this token is not valid for repository {repo:?}"
        )));
    }
    if !p.has(action) {
        return Err(AppError::Forbidden(format!(
            "this token lacks the {:?} scope needed here",
            action.as_str()
        )));
    }
    Ok(())
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(AppError::internal)?;
    Ok(hex::encode(b))
}

/// Failed password checks (plus checks in flight) one user name may have within
/// [`FAILURE_WINDOW`]; the next is a 429.
pub const USER_FAILURE_LIMIT: u32 = 10;
/// Failed password checks (plus checks in flight) one client address may have within
/// [`FAILURE_WINDOW`]; the next is a 429.
pub const ADDRESS_FAILURE_LIMIT: u32 = 30;
/// The window failed password checks are counted in, from the first failure.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long the outcome of a password check is remembered.
pub const REMEMBER_TTL: Duration = Duration::from_secs(60);
/// Most entries in each failure map (user names, addresses) and in the remembered checks.
pub const MAX_TRACKED: usize = 10_000;
/// Upper bound of [`max_argon2_runs`], whatever the core count.
const MAX_ARGON2_RUNS: usize = 8;

/// How many Argon2 runs may be in progress at once: one per core, at most 8 (each works in
/// ~19 MiB).
pub fn max_argon2_runs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_ARGON2_RUNS)
}

/// Failures of one key (user name digest or client address) in the window that started with the
/// first of them, and the distinct credentials of that key being checked right now.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
    in_flight: u32,
}

impl Window {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.start) >= FAILURE_WINDOW
    }

    /// The failures that still count.
    fn counted(&self, now: Instant) -> u32 {
        if self.expired(now) { 0 } else { self.failures }
    }

    /// Whether the entry says nothing any more (it may be dropped).
    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0 && self.counted(now) == 0
    }
}

/// The outcome of an Argon2 check of one credential, valid while the user's row is unchanged.
struct Checked {
    /// The user's id and a digest of the stored hash (`None`: unknown user or no password).
    stored: Option<(i64, [u8; 32])>,
    matched: bool,
    at: Instant,
}

impl Checked {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.at) >= REMEMBER_TTL
    }
}

/// Makes room for one more entry: drops stale entries, then (still full) the oldest.
fn make_room<K: Eq + Hash + Clone, V>(
    map: &mut HashMap<K, V>,
    now: Instant,
    stale: impl Fn(&V, Instant) -> bool,
    since: impl Fn(&V) -> Instant,
) {
    if map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, v| !stale(v, now));
    while map.len() >= MAX_TRACKED {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| since(v))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        map.remove(&oldest);
    }
}

/// Failure windows per key, with a limit on failures plus checks in flight.
struct Failures<K> {
    limit: u32,
    windows: HashMap<K, Window>,
}

impl<K: Eq + Hash + Clone> Failures<K> {
    fn new(limit: u32) -> Self {
        Failures {
            limit,
            windows: HashMap::new(),
        }
    }

    /// How long `key` should wait, if its failures plus its checks in flight reach the limit.
    fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let w = self.windows.get(key)?;
        let counted = w.counted(now);
        if counted.saturating_add(w.in_flight) < self.limit {
            return None;
        }
        Some(if counted > 0 {
            FAILURE_WINDOW.saturating_sub(now.duration_since(w.start))
        } else {
            // Only checks in flight: they end within seconds.
            Duration::from_secs(1)
        })
    }

    fn entry(&mut self, key: K, now: Instant) -> &mut Window {
        if !self.windows.contains_key(&key) {
            make_room(&mut self.windows, now, Window::idle, |w| w.start);
        }
        self.windows.entry(key).or_insert(Window {
            start: now,
            failures: 0,
            in_flight: 0,
        })
    }

    /// A check of a new credential of `key` starts.
    fn begin(&mut self, key: K, now: Instant) {
        let w = self.entry(key, now);
        w.in_flight = w.in_flight.saturating_add(1);
    }

    /// A check started with [`Failures::begin`] ended.
    fn end(&mut self, key: &K) {
        if let Some(w) = self.windows.get_mut(key) {
            w.in_flight = w.in_flight.saturating_sub(1);
        }
    }

    /// Counts a failure; returns whether it reached the limit (the key is now refused).
    fn record(&mut self, key: K, now: Instant) -> bool {
        let w = self.entry(key, now);
        if w.counted(now) == 0 {
            w.start = now;
            w.failures = 0;
        }
        w.failures = w.failures.saturating_add(1);
        w.failures == self.limit
    }
}

/// A credential being checked: who it counts against, and the lock its requests take turns on.
struct Pending {
    requests: u32,
    user: [u8; 32],
    address: Option<IpAddr>,
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// The rate-limiting state, under one lock.
struct Limits {
    users: Failures<[u8; 32]>,
    addresses: Failures<IpAddr>,
    /// Credentials being checked. A credential counts once in flight however many requests carry
    /// it (a client's parallel requests with one password), and those requests take turns, so
    /// the first runs Argon2 and the others find its outcome remembered.
    pending: HashMap<[u8; 32], Pending>,
}

/// The process-wide guard around Argon2 (see the module documentation).
struct PasswordGuard {
    /// One permit per Argon2 run in progress.
    permits: Arc<Semaphore>,
    /// Argon2 working memory, at most one buffer per permit, reused: allocated per run, the
    /// allocator would keep a freed copy for every thread of the blocking pool that ran one.
    memory: Mutex<Vec<Vec<Block>>>,
    /// A random per-process key for the digests below (they never leave memory).
    key: [u8; 32],
    limits: Mutex<Limits>,
    checked: Mutex<HashMap<[u8; 32], Checked>>,
}

static GUARD: LazyLock<PasswordGuard> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        // Still unpredictable enough for map keys that never leave the process.
        let fallback = Sha256::new()
            .chain_update(format!("{:?}{}", Instant::now(), std::process::id()))
            .finalize();
        key.copy_from_slice(&fallback);
    }
    PasswordGuard {
        permits: Arc::new(Semaphore::new(max_argon2_runs())),
        memory: Mutex::new(Vec::new()),
        key,
        limits: Mutex::new(Limits {
            users: Failures::new(USER_FAILURE_LIMIT),
            addresses: Failures::new(ADDRESS_FAILURE_LIMIT),
            pending: HashMap::new(),
        }),
        checked: Mutex::new(HashMap::new()),
    }
});

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The address failures are counted under: IPv4 as is, IPv6 by its /64 (what one host gets).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// A request's admission to a password check; dropping it ends the check's "in flight" count
/// once the last request carrying the credential is done.
struct Ticket {
    guard: &'static PasswordGuard,
    credential: [u8; 32],
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut limits = lock(&self.guard.limits);
        let Some(p) = limits.pending.get_mut(&self.credential) else {
            return;
        };
        p.requests = p.requests.saturating_sub(1);
        if p.requests > 0 {
            return;
        }
        let (user, address) = (p.user, p.address);
        limits.pending.remove(&self.credential);
        limits.users.end(&user);
        if let Some(a) = address {
            limits.addresses.end(&a);
        }
    }
}

impl PasswordGuard {
    fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        h.finalize().into()
    }

    /// Admits a request to check `credential`, or a 429 if the user name or the address has too
    /// many failures plus checks in flight.
    fn admit(
        &'static self,
        credential: [u8; 32],
        user: [u8; 32],
        address: Option<IpAddr>,
    ) -> Result<Ticket, AppError> {
        let now = Instant::now();
        let mut limits = lock(&self.limits);
        let by_user = limits.users.blocked(&user, now);
        let by_address = address.and_then(|a| limits.addresses.blocked(&a, now));
        let (wait, whom) = match (by_user, by_address) {
            (None, None) => {
                let turn = match limits.pending.get_mut(&credential) {
                    Some(p) => {
                        p.requests += 1;
                        p.turn.clone()
                    }
                    None => {
                        let turn = Arc::new(tokio::sync::Mutex::new(()));
                        limits.pending.insert(
                            credential,
                            Pending {
                                requests: 1,
                                user,
                                address,
                                turn: turn.clone(),
                            },
                        );
                        limits.users.begin(user, now);
                        if let Some(a) = address {
                            limits.addresses.begin(a, now);
                        }
                        turn
                    }
                };
                return Ok(Ticket {
                    guard: self,
                    credential,
                    turn,
                });
            }
            (Some(u), Some(a)) => (u.max(a), "for this user and from this address"),
            (Some(u), None) => (u, "for this user"),
            (None, Some(a)) => (a, "from this address"),
        };
        let secs = whole_seconds(wait);
        Err(AppError::TooManyRequests {
            message: format!(
                "too many failed sign-in attempts {whom}; try again in {secs} s (tokens still work)"
            ),
            retry_after_secs: secs,
        })
    }

    /// Counts a failed check against the user name and the address.
    fn record_failure(&self, name: &str, user: [u8; 32], address: Option<IpAddr>) {
        let now = Instant::now();
        let mut limits = lock(&self.limits);
        if limits.users.record(user, now) {
            tracing::warn!(user = ?name, "too many failed password checks for this user: refusing its password checks for a while");
        }
        if let Some(a) = address
            && limits.addresses.record(a, now)
        {
            tracing::warn!(client.address = %a, "too many failed password checks from this address: refusing its password checks for a while");
        }
    }

    /// The remembered outcome of checking `credential`, if it was checked recently against the
    /// same stored hash of the same user (or, failed, against no user or password at all).
    fn recall(&self, credential: &[u8; 32], stored: Option<(i64, [u8; 32])>) -> Option<bool> {
        let now = Instant::now();
        let mut checked = lock(&self.checked);
        let entry = checked.get(credential)?;
        if entry.expired(now) || entry.stored != stored {
            checked.remove(credential);
            return None;
        }
        Some(entry.matched)
    }

    /// Remembers an outcome; returns whether it is news (not remembered already).
    fn remember(
        &self,
        credential: [u8; 32],
        stored: Option<(i64, [u8; 32])>,
        matched: bool,
    ) -> bool {
        let now = Instant::now();
        let mut checked = lock(&self.checked);
        let known = checked
            .get(&credential)
            .is_some_and(|c| !c.expired(now) && c.stored == stored && c.matched == matched);
        if !checked.contains_key(&credential) {
            make_room(&mut checked, now, Checked::expired, |c| c.at);
        }
        checked.insert(
            credential,
            Checked {
                stored,
                matched,
                at: now,
            },
        );
        !known
    }

    /// Waits for an Argon2 slot; the permit is moved into the blocking task that runs Argon2, so
    /// the slot stays taken until Argon2 is done even if the request is dropped meanwhile.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)
    }

    /// Runs `f` with a reused Argon2 working memory (call only while holding a slot).
    fn with_memory<T>(&self, f: impl FnOnce(&mut Vec<Block>) -> T) -> T {
        let mut memory = lock(&self.memory).pop().unwrap_or_default();
        let out = f(&mut memory);
        lock(&self.memory).push(memory);
        out
    }
}

/// Whether `password` matches the PHC string `hash` (what `Argon2::verify_password` computes,
/// but in `memory` instead of a fresh allocation).
fn argon2_matches(password: &[u8], hash: &str, memory: &mut Vec<Block>) -> Result<bool, AppError> {
    let parsed = PasswordHash::new(hash).map_err(AppError::internal)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(AppError::Internal(
            "a stored password hash has no salt or no output".into(),
        ));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(AppError::internal)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(AppError::internal)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(AppError::internal)?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(AppError::internal)?;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..])
            .map_err(Into::into)
    })
    .map_err(AppError::internal)?;
    // `Output` compares in constant time.
    Ok(computed == expected)
}

fn new_hash(password: &[u8]) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AppError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

/// The hash unknown users are checked against (made once, with the parameters of real hashes).
fn dummy_hash() -> Result<&'static str, AppError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(AppError::internal)?;
    let made = new_hash(hex::encode(secret).as_bytes())?;
    Ok(DUMMY.get_or_init(|| made))
}

/// Hashes a password with Argon2id and a random salt (off the async threads, in an Argon2 slot).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    let permit = GUARD.slot().await?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        new_hash(password.as_bytes())
    })
    .await?
}

/// One password check as the blocking task runs it.
struct Attempt {
    name: String,
    password: String,
    /// The stored hash; `None`: unknown user or no password (checked against the dummy hash,
    /// always a failure).
    hash: Option<String>,
    /// The user's id and the digest of `hash`.
    stored: Option<(i64, [u8; 32])>,
    user_key: [u8; 32],
    credential: [u8; 32],
    address: Option<IpAddr>,
}

/// Runs Argon2 for `a` and records the outcome (in the blocking task, so that a request dropped
/// meanwhile still counts).
fn run_attempt(a: Attempt) -> Result<bool, AppError> {
    let hash = match &a.hash {
        Some(h) => h.as_str(),
        None => dummy_hash()?,
    };
    tracing::debug!(user = ?a.name, known = a.hash.is_some(), "argon2 password check");
    let matched = GUARD
        .with_memory(|memory| argon2_matches(a.password.as_bytes(), hash, memory))?
        && a.stored.is_some();
    let news = GUARD.remember(a.credential, a.stored, matched);
    if !matched && news {
        GUARD.record_failure(&a.name, a.user_key, a.address);
    }
    Ok(matched)
}

/// Finds a user by name.
pub async fn find_user(db: &Db, name: &str) -> Result<Option<user::Model>, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Name.eq(name))
        .one(&db.conn)
        .await?)
}

/// Creates a user; Conflict if the name is taken.
pub async fn create_user(
    db: &Db,
    name: &str,
    email: Option<&str>,
    password: Option<String>,
    admin: bool,
) -> Result<user::Model, AppError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return Err(AppError::Invalid(format!(
            "user name {name:?} is invalid: use 1-64 ASCII letters, digits, '-', '_' or '.'"
        )));
    }
    let password_hash = match password {
        Some(p) if p.is_empty() => return Err(AppError::Invalid("the password is empty".into())),
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let _guard = db.write_lock().await;
    let am = user::ActiveModel {
        name: Set(name.to_string()),
        email: Set(email.map(str::to_string)),
        password_hash: Set(password_hash),
        is_admin: Set(admin),
        created_at: Set(now_millis()),
        ..Default::default()
    };
    am.insert(&db.conn)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(format!("user {name:?} already exists")),
            other => other,
        })
}

/// Checks a user's password; `None` when the user is unknown, has no password, or it is wrong.
/// Failures count against the user name only; prefer [`check_password_from`] where the client's
/// address is known.
pub async fn check_password(
    db: &Db,
    name: &str,
    password: &str,
) -> Result<Option<user::Model>, AppError> {
    check_password_from(db, None, name, password).await
}

/// Checks a user's password sent from `client` (the peer address), under the guards of the module
/// documentation: `None` when the user is unknown, has no password, or it is wrong; a 429
/// ([`AppError::TooManyRequests`]) while the user name or the address has too many recent
/// failures (or checks in flight), without checking the password at all.
pub async fn check_password_from(
    db: &Db,
    client: Option<IpAddr>,
    name: &str,
    password: &str,
) -> Result<Option<user::Model>, AppError> {
    let guard: &'static PasswordGuard = &GUARD;
    let address = client.map(address_key);
    let user_key = guard.digest(&[name.as_bytes()]);
    let credential = guard.digest(&[name.as_bytes(), password.as_bytes()]);
    let ticket = guard.admit(credential, user_key, address)?;
    let user = find_user(db, name).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let stored = user
        .as_ref()
        .zip(hash.as_ref())
        .map(|(u, h)| (u.id, guard.digest(&[h.as_bytes()])));
    if let Some(matched) = guard.recall(&credential, stored) {
        return Ok(user.filter(|_| matched));
    }
    // Requests with the same credential take turns: after the first, the outcome is remembered.
    let turn = ticket.turn.clone().lock_owned().await;
    if let Some(matched) = guard.recall(&credential, stored) {
        return Ok(user.filter(|_| matched));
    }
    let permit = guard.slot().await?;
    let attempt = Attempt {
        name: name.to_string(),
        password: password.to_string(),
        hash,
        stored,
        user_key,
        credential,
        address,
    };
    // The turn, the slot and the admission stay taken until Argon2 is done and its outcome
    // recorded, even if this request is dropped meanwhile.
    let matched = tokio::task::spawn_blocking(move || {
        let outcome = run_attempt(attempt);
        drop((turn, permit, ticket));
        outcome
    })
    .await??;
    Ok(user.filter(|_| matched))
}

/// A new token's parameters.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Scopes; empty means all of the user's rights.
    pub scopes: Vec<Scope>,
    /// Repository restriction; empty means all.
    pub repos: Vec<String>,
    /// Expiry (Unix ms).
    pub expires_at: Option<i64>,
    /// A label.
    pub name: Option<String>,
}

/// Creates a token for a user and returns the clear token (shown once) and its row.
pub async fn create_token(
    db: &Db,
    u: &user::Model,
    t: NewToken,
) -> Result<(String, token::Model), AppError> {
    let all = user_scopes(u);
    let scopes = if t.scopes.is_empty() {
        all.clone()
    } else {
        t.scopes
    };
    if let Some(s) = scopes.iter().find(|s| !all.contains(s)) {
        return Err(AppError::Forbidden(format!(
            "user {:?} does not have the {:?} right",
            u.name,
            s.as_str()
        )));
    }
    let clear = format!("pgt_{}", random_hex(20)?);
    let _guard = db.write_lock().await;
    let am = token::ActiveModel {
        user_id: Set(u.id),
        token_hash: Set(hash_token(&clear)),
        prefix: Set(clear[..12].to_string()),
        name: Set(t.name),
        scopes: Set(scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")),
        repositories: Set(if t.repos.is_empty() {
            None
        } else {
            Some(t.repos.join(","))
        }),
        expires_at: Set(t.expires_at),
        created_at: Set(now_millis()),
        ..Default::default()
    };
    let row = am.insert(&db.conn).await?;
    Ok((clear, row))
}

/// Resolves a clear token to its principal; `None` if unknown or expired.
pub async fn principal_for_token(db: &Db, clear: &str) -> Result<Option<Principal>, AppError> {
    // One round trip: the token with its user.
    let Some((t, Some(u))) = token::Entity::find()
        .filter(token::Column::TokenHash.eq(hash_token(clear)))
        .find_also_related(user::Entity)
        .one(&db.conn)
        .await?
    else {
        return Ok(None);
    };
    if t.expires_at.is_some_and(|e| e <= now_millis()) {
        return Ok(None);
    }
    let scopes = t.scopes.split(',').filter_map(Scope::parse).collect();
    Ok(Some(Principal {
        user_id: u.id,
        user_name: u.name,
        email: u.email,
        scopes,
        repos: t
            .repositories
            .map(|r| r.split(',').map(str::to_string).collect()),
        token_id: Some(t.id),
    }))
}

/// Resolves user + password (or user + token, as npm's Basic auth may send) from `client` (the
/// peer address) to a principal; password checks are guarded as [`check_password_from`] says.
pub async fn principal_for_basic(
    db: &Db,
    client: Option<IpAddr>,
    name: &str,
    secret: &str,
) -> Result<Option<Principal>, AppError> {
    if let Some(p) = principal_for_token(db, secret).await? {
        return Ok((p.user_name == name).then_some(p));
    }
    let Some(u) = check_password_from(db, client, name, secret).await? else {
        return Ok(None);
    };
    Ok(Some(Principal {
        user_id: u.id,
        scopes: user_scopes(&u),
        user_name: u.name,
        email: u.email,
        repos: None,
        token_id: None,
    }))
}

/// Tokens of one user (or of everyone), oldest first.
pub async fn list_tokens(
    db: &Db,
    user_id: Option<i64>,
) -> Result<Vec<(token::Model, String)>, AppError> {
    let mut q = token::Entity::find().order_by_asc(token::Column::Id);
    if let Some(id) = user_id {
        q = q.filter(token::Column::UserId.eq(id));
    }
    let tokens = q.all(&db.conn).await?;
    let users = user::Entity::find().all(&db.conn).await?;
    Ok(tokens
        .into_iter()
        .map(|t| {
            let name = users
                .iter()
                .find(|u| u.id == t.user_id)
                .map(|u| u.name.clone())
                .unwrap_or_default();
            (t, name)
        })
        .collect())
}

/// Deletes a token by id (limited to one user's tokens when `user_id` is given). Returns whether it existed.
pub async fn revoke_token(db: &Db, id: i64, user_id: Option<i64>) -> Result<bool, AppError> {
    let _guard = db.write_lock().await;
    let mut q = token::Entity::delete_many().filter(token::Column::Id.eq(id));
    if let Some(u) = user_id {
        q = q.filter(token::Column::UserId.eq(u));
    }
    Ok(q.exec(&db.conn).await?.rows_affected > 0)
}

/// Deletes the token whose clear text is given (logout). Returns whether it existed.
pub async fn revoke_clear_token(db: &Db, clear: &str) -> Result<bool, AppError> {
    let _guard = db.write_lock().await;
    let res = token::Entity::delete_many()
        .filter(token::Column::TokenHash.eq(hash_token(clear)))
        .exec(&db.conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Deletes a user's token whose stored hash starts with `key_prefix` (npm's token key).
pub async fn revoke_by_key(db: &Db, user_id: i64, key_prefix: &str) -> Result<bool, AppError> {
    let tokens = list_tokens(db, Some(user_id)).await?;
    let matches: Vec<_> = tokens
        .iter()
        .filter(|(t, _)| t.token_hash.starts_with(key_prefix))
        .collect();
    match matches.as_slice() {
        [(t, _)] => revoke_token(db, t.id, Some(user_id)).await,
        [] => Ok(false),
        _ => Err(AppError::Invalid(format!(
            "token key prefix {key_prefix:?} is ambiguous"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[test]
    fn the_reused_memory_check_agrees_with_argon2s_own_verification() {
        let hash = new_hash(b"right").expect("hash");
        let parsed = PasswordHash::new(&hash).expect("parse");
        let mut memory = Vec::new();
        for (password, expected) in [(&b"right"[..], true), (b"wrong", false), (b"", false)] {
            assert_eq!(
                argon2_matches(password, &hash, &mut memory).expect("check"),
                expected
            );
            assert_eq!(
                Argon2::default().verify_password(password, &parsed).is_ok(),
                expected
            );
        }
        assert_eq!(memory.len(), Params::DEFAULT.block_count());
        // Other parameters (a smaller memory cost) are read from the stored hash.
        let small = Params::new(64, 1, 1, None).expect("params");
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"pw", &salt)
            .expect("hash")
            .to_string();
        assert!(argon2_matches(b"pw", &other, &mut memory).expect("check"));
        assert!(!argon2_matches(b"pw2", &other, &mut memory).expect("check"));
        assert!(argon2_matches(b"pw", "not a phc string", &mut memory).is_err());
    }

    #[test]
    fn failures_block_a_key_at_the_limit_until_their_window_passes() {
        let mut f = Failures::new(3);
        let t0 = Instant::now();
        assert!(!f.record("a", t0));
        assert!(!f.record("a", t0));
        assert!(f.blocked(&"a", t0).is_none());
        assert!(f.record("a", t0), "the third failure reaches the limit");
        let wait = f
            .blocked(&"a", t0 + Duration::from_secs(10))
            .expect("blocked");
        assert_eq!(whole_seconds(wait), 50);
        assert!(f.blocked(&"b", t0).is_none(), "other keys are not affected");
        let later = t0 + FAILURE_WINDOW;
        assert!(f.blocked(&"a", later).is_none());
        assert!(!f.record("a", later), "a new window starts from zero");
    }

    #[test]
    fn checks_in_flight_count_toward_the_limit_until_they_end() {
        let mut f = Failures::new(3);
        let t0 = Instant::now();
        f.record("a", t0);
        f.begin("a", t0);
        assert!(f.blocked(&"a", t0).is_none());
        f.begin("a", t0);
        assert!(f.blocked(&"a", t0).is_some(), "1 failure + 2 in flight");
        f.end(&"a");
        assert!(f.blocked(&"a", t0).is_none());
        f.begin("b", t0);
        f.begin("b", t0);
        f.begin("b", t0);
        let wait = f.blocked(&"b", t0).expect("3 in flight");
        assert_eq!(whole_seconds(wait), 1, "no failure yet: retry soon");
        // A failure long after the entry was made starts its own window.
        let late = t0 + FAILURE_WINDOW * 2;
        f.record("b", late);
        let wait = f.blocked(&"b", late).expect("1 failure + 3 in flight");
        assert_eq!(whole_seconds(wait), 60);
    }

    #[test]
    fn tracking_maps_stay_bounded_dropping_idle_then_oldest_entries() {
        let mut f = Failures::new(1);
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED {
            f.record(i, t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(f.windows.len(), MAX_TRACKED);
        f.record(MAX_TRACKED, t0 + Duration::from_secs(1));
        assert_eq!(f.windows.len(), MAX_TRACKED);
        assert!(!f.windows.contains_key(&0), "the oldest entry made room");
        let much_later = t0 + FAILURE_WINDOW + Duration::from_secs(30);
        f.record(usize::MAX, much_later);
        assert_eq!(f.windows.len(), 1, "idle entries are dropped first");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(
            address_key(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn a_remembered_outcome_is_bound_to_the_stored_hash() {
        let guard = &*GUARD;
        let credential = guard.digest(&[b"remember-me", b"secret"]);
        let stored = Some((7, guard.digest(&[b"$argon2id$old"])));
        assert!(guard.remember(credential, stored, true), "news");
        assert!(!guard.remember(credential, stored, true), "not news");
        assert_eq!(guard.recall(&credential, stored), Some(true));
        let changed = Some((7, guard.digest(&[b"$argon2id$new"])));
        assert_eq!(guard.recall(&credential, changed), None, "changed password");
        guard.remember(credential, stored, true);
        assert_eq!(guard.recall(&credential, None), None, "removed user");
    }

    #[test]
    fn requests_with_one_credential_count_once_in_flight() {
        let guard: &'static PasswordGuard = &GUARD;
        let user = guard.digest(&[b"in-flight-user"]);
        let address = Some(address_key("192.0.2.200".parse().expect("ip")));
        let same = guard.digest(&[b"in-flight-user", b"pw"]);
        let in_flight = |guard: &PasswordGuard| {
            let limits = lock(&guard.limits);
            (
                limits.users.windows.get(&user).map_or(0, |w| w.in_flight),
                limits
                    .addresses
                    .windows
                    .get(&IpAddr::from([192, 0, 2, 200]))
                    .map_or(0, |w| w.in_flight),
            )
        };
        let tickets: Vec<Ticket> = (0..USER_FAILURE_LIMIT + 5)
            .map(|_| guard.admit(same, user, address).expect("admitted"))
            .collect();
        assert_eq!(in_flight(guard), (1, 1));
        let others: Vec<Ticket> = (1..USER_FAILURE_LIMIT)
            .map(|i| {
                let c = guard.digest(&[b"in-flight-user", format!("pw{i}").as_bytes()]);
                guard.admit(c, user, address).expect("admitted")
            })
            .collect();
        assert_eq!(in_flight(guard), (USER_FAILURE_LIMIT, USER_FAILURE_LIMIT));
        let refused = guard.admit(guard.digest(&[b"in-flight-user", b"x"]), user, address);
        assert!(matches!(
            refused,
            Err(AppError::TooManyRequests {
                retry_after_secs: 1,
                ..
            })
        ));
        drop(others);
        drop(tickets);
        assert_eq!(in_flight(guard), (0, 0));
    }
}
