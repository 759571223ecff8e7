//! The authorization matrix, one table-driven test per format: the rows are every state-changing
//! route plus the reads of a private repository, the columns the credentials a request can carry
//! (see [`COLUMNS`]), and each cell the status the policy (docs/security.md) gives that request.
//! A test runs every cell, prints the whole matrix of got-vs-expected and fails listing every
//! wrong cell, not just the first.
//!
//! The scope-limited, repository-limited, expired and revoked tokens all belong to the owner
//! (`alice`, full rights), so that each column differs from the owner's in one respect only.
//! Every cell of a state-changing row works on a package of its own (`{row}-{column}`), prepared
//! by the owner just before the request, so no cell sees what another cell changed. Credentials
//! travel the way each format's client sends its token: npm `Bearer`, cargo and gem the raw
//! token, NuGet `X-NuGet-ApiKey` (no `Basic user:token`, whose failed checks would count towards
//! the password-failure limits).

mod cargo;
mod npm;
mod nuget;
mod rubygems;

use crate::support::{Resp, TestServer};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A credential a request carries: one column of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cred {
    /// No `Authorization` at all.
    Anonymous,
    /// The owner's token with `--scope read`.
    ReadOnly,
    /// The owner's token with `--scope read,publish`.
    Publish,
    /// The owner's token with `--scope read,delete`.
    Delete,
    /// The owner's token with every scope, limited to the format's other repository.
    OtherRepo,
    /// The owner's token with every scope, expired.
    Expired,
    /// The owner's token with every scope, revoked.
    Revoked,
    /// Another user's token with every scope: an ordinary publisher who owns nothing here.
    AnotherUser,
    /// The owner's token with every scope (read, publish, delete).
    Owner,
    /// An admin's token (every scope, admin included); the admin owns nothing here.
    Admin,
}

/// The columns, in the order of every row's `expected` array.
pub const COLUMNS: [Cred; 10] = [
    Cred::Anonymous,
    Cred::ReadOnly,
    Cred::Publish,
    Cred::Delete,
    Cred::OtherRepo,
    Cred::Expired,
    Cred::Revoked,
    Cred::AnotherUser,
    Cred::Owner,
    Cred::Admin,
];

impl Cred {
    /// The column header.
    pub fn header(self) -> &'static str {
        match self {
            Cred::Anonymous => "anonymous",
            Cred::ReadOnly => "read-only",
            Cred::Publish => "publish",
            Cred::Delete => "delete",
            Cred::OtherRepo => "other repo",
            Cred::Expired => "expired",
            Cred::Revoked => "revoked",
            Cred::AnotherUser => "other user",
            Cred::Owner => "owner",
            Cred::Admin => "admin",
        }
    }

    /// A lower-case word for package names (valid in every format's names).
    pub fn slug(self) -> &'static str {
        match self {
            Cred::Anonymous => "anon",
            Cred::ReadOnly => "readonly",
            Cred::Publish => "publish",
            Cred::Delete => "delete",
            Cred::OtherRepo => "elsewhere",
            Cred::Expired => "expired",
            Cred::Revoked => "revoked",
            Cred::AnotherUser => "stranger",
            Cred::Owner => "owner",
            Cred::Admin => "admin",
        }
    }
}

/// The package a cell of row `row` works on: `{row}-{column slug}`.
pub fn cell_name(row: &str, cred: Cred) -> String {
    format!("{row}-{}", cred.slug())
}

/// The owner.
pub const OWNER: &str = "alice";
/// An ordinary publisher who owns nothing the matrix touches.
pub const ANOTHER_USER: &str = "bob";
/// An admin who owns nothing the matrix touches.
pub const ADMIN: &str = "root";

/// `<user>-password`, the password every user of the matrix has.
pub fn password(user: &str) -> String {
    format!("{user}-password")
}

/// The users and the token of every column on one server, for one format's two repositories.
pub struct Creds<'s> {
    server: &'s TestServer,
    public: String,
    private: String,
    /// The owner's full token (read, publish, delete), also for preparing cells.
    pub owner: String,
    read_only: String,
    publish: String,
    delete: String,
    /// Limited to the public repository (used by rows on the private one).
    for_public: String,
    /// Limited to the private repository (used by rows on the public one).
    for_private: String,
    expired: String,
    revoked: String,
    another_user: String,
    admin: String,
}

impl<'s> Creds<'s> {
    /// Creates the owner, another publisher and an admin (each with a password) and the tokens
    /// of every column; `public` and `private` are the format's two repositories.
    pub fn new(server: &'s TestServer, public: &str, private: &str) -> Creds<'s> {
        let owner = server.publisher(OWNER);
        let another_user = server.publisher(ANOTHER_USER);
        let email = format!("{ADMIN}@example.test");
        server.cli_ok(
            &[
                "user",
                "add",
                ADMIN,
                "--admin",
                "--email",
                &email,
                "--password-stdin",
            ],
            Some(&format!("{}\n", password(ADMIN))),
        );
        let admin = server.create_token(ADMIN, &[]);
        let expired = server.create_token(OWNER, &["--expires", "1s"]);
        let expires_at = Instant::now() + Duration::from_millis(1100);
        let revoked = server.create_token(OWNER, &["--name", "authz-revoked"]);
        let listed = server.cli_ok(&["token", "list", "--user", OWNER], None);
        let id = listed
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|f| f.get(3) == Some(&"authz-revoked"))
            .and_then(|f| f.first().map(|id| id.to_string()))
            .unwrap_or_else(|| panic!("no token named authz-revoked in:\n{listed}"));
        server.cli_ok(&["token", "revoke", &id], None);
        let creds = Creds {
            server,
            public: public.to_owned(),
            private: private.to_owned(),
            owner,
            read_only: server.create_token(OWNER, &["--scope", "read"]),
            publish: server.create_token(OWNER, &["--scope", "read,publish"]),
            delete: server.create_token(OWNER, &["--scope", "read,delete"]),
            for_public: server.create_token(OWNER, &["--repo", public]),
            for_private: server.create_token(OWNER, &["--repo", private]),
            expired,
            revoked,
            another_user,
            admin,
        };
        std::thread::sleep(expires_at.saturating_duration_since(Instant::now()));
        creds
    }

    /// The format's repository that is not `repo`.
    fn other_repo(&self, repo: &str) -> &str {
        if repo == self.public {
            &self.private
        } else {
            &self.public
        }
    }

    /// The token of column `cred` for a request to `repo` (`None`: anonymous).
    pub fn token(&self, cred: Cred, repo: &str) -> Option<&str> {
        Some(match cred {
            Cred::Anonymous => return None,
            Cred::ReadOnly => &self.read_only,
            Cred::Publish => &self.publish,
            Cred::Delete => &self.delete,
            Cred::OtherRepo if repo == self.public => &self.for_private,
            Cred::OtherRepo => &self.for_public,
            Cred::Expired => &self.expired,
            Cred::Revoked => &self.revoked,
            Cred::AnotherUser => &self.another_user,
            Cred::Owner => &self.owner,
            Cred::Admin => &self.admin,
        })
    }

    /// A new token shaped like column `cred`'s for a request to `repo` (for a cell that revokes
    /// the token it sends); the expired and revoked ones are the column's own.
    pub fn fresh(&self, cred: Cred, repo: &str) -> Option<String> {
        let other = self.other_repo(repo).to_owned();
        let (user, args): (&str, Vec<&str>) = match cred {
            Cred::Anonymous => return None,
            Cred::Expired | Cred::Revoked => return self.token(cred, repo).map(str::to_owned),
            Cred::ReadOnly => (OWNER, vec!["--scope", "read"]),
            Cred::Publish => (OWNER, vec!["--scope", "read,publish"]),
            Cred::Delete => (OWNER, vec!["--scope", "read,delete"]),
            Cred::OtherRepo => (OWNER, vec!["--repo", &other]),
            Cred::AnotherUser => (ANOTHER_USER, vec![]),
            Cred::Owner => (OWNER, vec![]),
            Cred::Admin => (ADMIN, vec![]),
        };
        Some(self.server.create_token(user, &args))
    }

    /// The user whose token column `cred` carries (the owner for anonymous requests).
    pub fn user(cred: Cred) -> &'static str {
        match cred {
            Cred::AnotherUser => ANOTHER_USER,
            Cred::Admin => ADMIN,
            _ => OWNER,
        }
    }
}

/// What one cell got.
#[derive(Debug, Clone)]
pub struct Got {
    pub status: u16,
    /// The start of the body, for the report of a wrong cell.
    pub body: String,
    /// Something else wrong with the answer (e.g. a challenge npm must not see).
    pub problem: Option<String>,
}

impl Got {
    pub fn of(resp: &Resp) -> Got {
        let text = resp.text();
        let body: String = text.trim().chars().take(240).collect();
        Got {
            status: resp.status,
            body,
            problem: None,
        }
    }
}

/// One route: its description, the expected status per column of [`COLUMNS`], and the cell.
pub struct Row<'a> {
    pub route: &'static str,
    pub expected: [u16; 10],
    pub run: Box<dyn Fn(Cred) -> Got + 'a>,
}

/// A row: `run` prepares the cell's package (as the owner) and sends the request of column `cred`.
pub fn row<'a>(
    route: &'static str,
    expected: [u16; 10],
    run: impl Fn(Cred) -> Got + 'a,
) -> Row<'a> {
    Row {
        route,
        expected,
        run: Box::new(run),
    }
}

/// The outcome of a matrix: the printed table and every wrong cell.
#[must_use = "call `assert_matches_the_policy` (after the server is gone)"]
pub struct Verdict {
    format: String,
    wrong: Vec<String>,
}

impl Verdict {
    /// Fails listing every wrong cell. Called once the server is dropped, so that a failure
    /// reports the cells rather than the server's request log.
    pub fn assert_matches_the_policy(self) {
        assert!(
            self.wrong.is_empty(),
            "{}: {} cell(s) of the authorization matrix differ from the policy:\n- {}",
            self.format,
            self.wrong.len(),
            self.wrong.join("\n- ")
        );
    }
}

/// Runs every cell and prints the matrix (the status got, and `got!=expected` where it is not the
/// policy's) with the time taken; the verdict lists every wrong cell.
pub fn check(format: &str, rows: Vec<Row<'_>>) -> Verdict {
    let started = Instant::now();
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut wrong = Vec::new();
    let mut times = Vec::new();
    for r in &rows {
        let row_started = Instant::now();
        let mut cells = Vec::new();
        for (cred, expected) in COLUMNS.iter().zip(r.expected) {
            let got = (r.run)(*cred);
            let mut cell = got.status.to_string();
            if got.status != expected {
                cell = format!("{}!={expected}", got.status);
                wrong.push(format!(
                    "{} x {}: got {}, the policy says {expected}; body: {}",
                    r.route,
                    cred.header(),
                    got.status,
                    got.body
                ));
            }
            if let Some(problem) = &got.problem {
                cell.push('*');
                wrong.push(format!("{} x {}: {problem}", r.route, cred.header()));
            }
            cells.push(cell);
        }
        table.push(cells);
        times.push(row_started.elapsed());
    }
    let elapsed = started.elapsed();
    let route_width = rows.iter().map(|r| r.route.len()).max().unwrap_or(0);
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            table
                .iter()
                .map(|cells| cells[i].len())
                .chain([c.header().len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!(
        "{format} authorization matrix ({} rows x {} columns in {:.1} s; `got!=expected` marks a \
         wrong status, `*` another problem)\n",
        rows.len(),
        COLUMNS.len(),
        elapsed.as_secs_f64()
    );
    let _ = write!(out, "{:route_width$}", "route");
    for (c, w) in COLUMNS.iter().zip(&widths) {
        let _ = write!(out, " | {:w$}", c.header());
    }
    out.push_str(" | time\n");
    for ((r, cells), time) in rows.iter().zip(&table).zip(&times) {
        let _ = write!(out, "{:route_width$}", r.route);
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(out, " | {cell:w$}");
        }
        let _ = writeln!(out, " | {:.2} s", time.as_secs_f64());
    }
    println!("{out}");
    Verdict {
        format: format.to_owned(),
        wrong,
    }
}
