//! The `packgate` command line: `serve`, `migrate`, `user add`, `token create|list|revoke`.
//! Every subcommand reads the same layered configuration, so the CLI works on the database of a
//! running server (SQLite in WAL mode, or PostgreSQL).

use crate::config::{self, Config, FlagOverrides};
use crate::services::auth::{self, NewToken};
use crate::services::time::{iso8601, now_millis, parse_duration_millis};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// packgate: a self-hosted package gateway (npm today; NuGet, RubyGems, Cargo, PyPI next).
#[derive(Parser, Debug)]
#[command(name = "packgate", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// A TOML configuration file or a directory of them (repeatable; later files may not contradict earlier ones).
    #[arg(long, global = true)]
    config: Vec<PathBuf>,
    /// Data directory (SQLite database, blobs, temp files).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Public base URL used in absolute links (default: from each request's Host header).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage package owners (any format; the first publisher owns a package).
    Owner {
        #[command(subcommand)]
        command: OwnerCommand,
    },
    /// Manage proxy repositories' caches.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Show which members of a group would be asked for a package name and why the others are
    /// not (routing rules, a hosted member's claim), with what each member holds in the database
    /// (a dry run: no upstream is contacted; `GET /-/api/explain/{group}/{name}` asks them).
    Explain {
        /// The group repository.
        group: String,
        /// The package name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum CacheCommand {
    /// Forget a proxy's cached metadata (all of it, or one package's): the next request asks the
    /// upstream. Cached files stay downloadable unless --files is given. Running servers drop
    /// their in-memory copies within `metadata_ttl` (`POST /api/proxies/purge` drops the
    /// answering server's at once).
    Purge {
        /// The proxy repository.
        repo: String,
        /// Only this package.
        package: Option<String>,
        /// Also forget the cached files (fetched and verified again on the next download).
        #[arg(long)]
        files: bool,
    },
}

#[derive(Subcommand, Debug)]
enum OwnerCommand {
    /// List a package's owners (one login per line).
    List {
        /// Repository name.
        repo: String,
        /// Package name (any spelling the format treats as the same).
        package: String,
    },
    /// Add an owner.
    Add {
        /// Repository name.
        repo: String,
        /// Package name.
        package: String,
        /// The user to add.
        user: String,
    },
    /// Remove an owner (a package keeps at least one).
    Remove {
        /// Repository name.
        repo: String,
        /// Package name.
        package: String,
        /// The user to remove.
        user: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user. Without --password-stdin the user can only use tokens.
    Add {
        /// User name.
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Create a token and print it (only the token) on stdout.
    Create {
        /// Owner of the token.
        user: String,
        /// Comma-separated scopes: read, publish, delete, admin (default: all of the user's rights).
        #[arg(long)]
        scope: Option<String>,
        /// Limit the token to a repository (repeatable or comma-separated).
        #[arg(long)]
        repo: Vec<String>,
        /// Expiry as a duration: 30d, 12h, 90m, 2w.
        #[arg(long)]
        expires: Option<String>,
        /// A label shown in listings.
        #[arg(long)]
        name: Option<String>,
    },
    /// List tokens (tab-separated: id, user, prefix, name, scopes, repos, expires).
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (from `token list`).
        id: i64,
    },
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match run_cli(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("packgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<()> {
    let mut flags = FlagOverrides {
        data_dir: cli.global.data_dir.clone(),
        ..Default::default()
    };
    if let Command::Serve { listen, base_url } = &cli.command {
        flags.listen = listen.clone();
        flags.base_url = base_url.clone();
    }
    let config = config::load(&cli.global.config, &flags)?;
    init_logging(&config, matches!(cli.command, Command::Serve { .. }));
    if let Command::Serve { .. } = cli.command {
        return serve(config);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve { .. } => Ok(()),
        Command::Migrate => runtime.block_on(async {
            crate::server::open(&config).await?;
            eprintln!("packgate: database is up to date");
            Ok(())
        }),
        Command::User { command } => runtime.block_on(user(config, command)),
        Command::Token { command } => runtime.block_on(token(config, command)),
        Command::Owner { command } => runtime.block_on(owner(config, command)),
        Command::Cache { command } => runtime.block_on(cache(config, command)),
        Command::Explain { group, name } => runtime.block_on(explain(config, &group, &name)),
    }
}

fn init_logging(config: &Config, serving: bool) {
    use std::io::IsTerminal;
    // The admin commands only say what went wrong; the server logs every request.
    let default = if serving {
        "info,sqlx=warn,actix_server=warn,sea_orm_migration=warn"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PACKGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.server.log_format == crate::config::LogFormat::Json {
        let _ = builder.json().flatten_event(true).try_init();
    } else {
        let _ = builder.try_init();
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    crate::db::create_private_dir(&config.server.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            config.server.data_dir.display()
        )
    })?;
    let listener = std::net::TcpListener::bind(&config.server.listen)
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(listen = %addr, database = %redact_url(&config.database_url()), storage = %config.storage.kind, "starting packgate");
    // The actix system drives the server; its own signal handling gives graceful shutdown.
    actix_web::rt::System::new().block_on(async move {
        crate::server::run(listener, config, || {
            println!("packgate listening on http://{addr}");
            let _ = std::io::stdout().flush();
        })
        .await
    })
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

async fn open_db(config: &Config) -> anyhow::Result<crate::db::Db> {
    Ok(crate::db::Db::open(&config.database_url(), 2).await?)
}

async fn owner(config: Config, cmd: OwnerCommand) -> anyhow::Result<()> {
    use crate::services::{owners, packages};
    let (repo, package) = match &cmd {
        OwnerCommand::List { repo, package }
        | OwnerCommand::Add { repo, package, .. }
        | OwnerCommand::Remove { repo, package, .. } => (repo.clone(), package.clone()),
    };
    let format = config
        .repository
        .iter()
        .find(|r| r.name == repo)
        .map(|r| r.format)
        .with_context(|| format!("no repository named {repo:?}"))?;
    let normalized = crate::routes::module(format).normalize_name(&package);
    let db = open_db(&config).await?;
    let pkg = packages::find(&db, &repo, &normalized)
        .await?
        .with_context(|| format!("no package {package:?} in repository {repo:?}"))?;
    let current = packages::owners(&db, pkg.id).await?;
    let change = |user: &str, add: bool| {
        let db = db.clone();
        let current = current.clone();
        let user = user.to_string();
        async move {
            let u = auth::find_user(&db, &user)
                .await?
                .with_context(|| format!("no user named {user:?}"))?;
            owners::change_one(&db, pkg.id, &current, &u, add).await?;
            anyhow::Ok(())
        }
    };
    match cmd {
        OwnerCommand::List { .. } => {
            let mut out = std::io::stdout().lock();
            for (_, login) in current {
                writeln!(out, "{login}")?;
            }
        }
        OwnerCommand::Add { user, .. } => {
            change(&user, true).await?;
            eprintln!("packgate: {user} owns {} in {repo}", pkg.name);
        }
        OwnerCommand::Remove { user, .. } => {
            change(&user, false).await?;
            eprintln!("packgate: {user} no longer owns {} in {repo}", pkg.name);
        }
    }
    Ok(())
}

async fn cache(config: Config, cmd: CacheCommand) -> anyhow::Result<()> {
    let CacheCommand::Purge {
        repo,
        package,
        files,
    } = cmd;
    let r = config
        .repository
        .iter()
        .find(|r| r.name == repo)
        .with_context(|| format!("no repository named {repo:?}"))?;
    if r.kind != crate::config::RepoKind::Proxy {
        anyhow::bail!("repository {repo:?} is not a proxy; only proxies have a cache");
    }
    let normalized = package
        .as_deref()
        .map(|p| crate::routes::module(r.format).normalize_name(p));
    let db = open_db(&config).await?;
    let removed = crate::services::proxy::purge(&db, &repo, normalized.as_deref()).await?;
    eprintln!("packgate: purged {removed} cached document(s) of {repo}");
    if files {
        let n = crate::services::proxy::purge_files(&db, &repo, normalized.as_deref()).await?;
        eprintln!("packgate: forgot the cached files of {n} package(s) of {repo}");
    }
    Ok(())
}

async fn explain(config: Config, group: &str, name: &str) -> anyhow::Result<()> {
    use crate::config::RepoKind;
    use crate::services::group::{Group, Verdict};
    let r = config
        .repository
        .iter()
        .find(|r| r.name == group)
        .with_context(|| format!("no repository named {group:?}"))?;
    if r.kind != RepoKind::Group {
        anyhow::bail!("repository {group:?} is not a group");
    }
    let settings = r.group_settings(&config.repository)?;
    let kind_of = |m: &str| {
        config
            .repository
            .iter()
            .find(|x| x.name == m)
            .map(|x| x.kind)
    };
    let hosted = settings
        .members
        .iter()
        .map(|m| kind_of(&m.name) == Some(RepoKind::Hosted))
        .collect();
    let g = Group {
        name: group.to_string(),
        settings,
        hosted,
    };
    let normalized = crate::routes::module(r.format).normalize_name(name);
    let db = open_db(&config).await?;
    let plan = g.plan_for(&db, &normalized).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "group {group}, name {name} (looked up as {normalized})"
    )?;
    match g.settings.rules.iter().position(|x| x.matches(&normalized)) {
        Some(n) => writeln!(out, "routing rule {} applies", n + 1)?,
        None => writeln!(out, "no routing rule applies")?,
    }
    for (i, m) in g.settings.members.iter().enumerate() {
        let kind = if g.hosted[i] { "hosted" } else { "proxy" };
        let verdict = match &plan.verdicts[i] {
            Verdict::Asked => "asked".to_string(),
            Verdict::ExcludedByRule { rule } => format!("not asked: rule {rule} excludes it"),
            Verdict::NotInOnlyList { rule } => {
                format!("not asked: rule {rule} lists only other members")
            }
            Verdict::ClaimedByHosted { member } => format!(
                "not asked: hosted member {member} holds the name (allow_upstream does not match)"
            ),
        };
        let held = match crate::services::packages::load(&db, &m.name, &normalized).await? {
            Some(desc) => {
                let versions: Vec<&str> = desc
                    .versions
                    .iter()
                    .map(|v| v.version.version.as_str())
                    .collect();
                if g.hosted[i] {
                    format!("holds {}", versions.join(", "))
                } else {
                    format!("has cached files of {}", versions.join(", "))
                }
            }
            None if g.hosted[i] => "does not hold it".to_string(),
            None => "has no cached files of it".to_string(),
        };
        writeln!(out, "{}. {} ({kind}): {verdict}; {held}", i + 1, m.name)?;
    }
    Ok(())
}

async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let db = open_db(&config).await?;
    match cmd {
        UserCommand::Add {
            name,
            admin,
            email,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                let line = s.lines().next().unwrap_or("").to_string();
                if line.is_empty() {
                    bail!("--password-stdin: no password on standard input");
                }
                Some(line)
            } else {
                None
            };
            let u = auth::create_user(&db, &name, email.as_deref(), password, admin).await?;
            eprintln!(
                "packgate: created user {:?}{}",
                u.name,
                if u.is_admin { " (admin)" } else { "" }
            );
        }
    }
    Ok(())
}

async fn token(config: Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let db = open_db(&config).await?;
    match cmd {
        TokenCommand::Create {
            user,
            scope,
            repo,
            expires,
            name,
        } => {
            let u = auth::find_user(&db, &user)
                .await?
                .with_context(|| format!("no user named {user:?}"))?;
            let scopes = match scope {
                Some(s) => auth::parse_scopes(&s).map_err(anyhow::Error::msg)?,
                None => vec![],
            };
            let repos: Vec<String> = repo
                .iter()
                .flat_map(|r| r.split(','))
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            for r in &repos {
                if !config.repository.iter().any(|c| &c.name == r) {
                    bail!("--repo {r:?}: no such repository in the configuration");
                }
            }
            let expires_at = match expires {
                Some(e) => Some(
                    now_millis()
                        + parse_duration_millis(&e).with_context(|| {
                            format!("--expires {e:?}: use a duration like 30d, 12h or 90m")
                        })?,
                ),
                None => None,
            };
            let (clear, _) = auth::create_token(
                &db,
                &u,
                NewToken {
                    scopes,
                    repos,
                    expires_at,
                    name,
                },
            )
            .await?;
            println!("{clear}");
        }
        TokenCommand::List { user } => {
            let uid = match user {
                Some(n) => Some(
                    auth::find_user(&db, &n)
                        .await?
                        .with_context(|| format!("no user named {n:?}"))?
                        .id,
                ),
                None => None,
            };
            let mut out = std::io::stdout().lock();
            for (t, owner) in auth::list_tokens(&db, uid).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    owner,
                    t.prefix,
                    t.name.unwrap_or_default(),
                    t.scopes,
                    t.repositories.unwrap_or_else(|| "*".into()),
                    t.expires_at.map(iso8601).unwrap_or_else(|| "never".into())
                )?;
            }
        }
        TokenCommand::Revoke { id } => {
            if !auth::revoke_token(&db, id, None).await? {
                bail!("no token with id {id}");
            }
            eprintln!("packgate: revoked token {id}");
        }
    }
    Ok(())
}
