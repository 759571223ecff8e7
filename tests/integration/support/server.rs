//! Starts the real `packgate` binary (`packgate serve`) on 127.0.0.1 with a fresh data dir and
//! config, waits for its "listening" line and `/healthz`, and kills it on drop.
//!
//! Stack: SQLite + filesystem under a temp dir by default; a fresh PostgreSQL database per test when
//! `PACKGATE_TEST_DATABASE_URL` is set (created with `psql`, dropped `WITH (FORCE)` on drop); S3 with a
//! random key prefix when `PACKGATE_TEST_S3_ENDPOINT` is set (plus `PACKGATE_TEST_S3_BUCKET`,
//! `_REGION`, `_ACCESS_KEY`, `_SECRET_KEY`).

use super::{Client, random_id, wait_until};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_packgate");

/// The default repositories every harness config declares: a public (`anonymous_read = true`)
/// and a private hosted repository per format: `npm`, `npm-private`, `cargo`, `cargo-private`,
/// `rubygems`, `rubygems-private`, `nuget`, `nuget-private`.
pub const DEFAULT_REPOSITORIES: &str = r#"
[[repository]]
name = "npm"
format = "npm"
type = "hosted"
anonymous_read = true

[[repository]]
name = "npm-private"
format = "npm"
type = "hosted"
anonymous_read = false

[[repository]]
name = "cargo"
format = "cargo"
type = "hosted"
anonymous_read = true

[[repository]]
name = "cargo-private"
format = "cargo"
type = "hosted"
anonymous_read = false

[[repository]]
name = "rubygems"
format = "rubygems"
type = "hosted"
anonymous_read = true

[[repository]]
name = "rubygems-private"
format = "rubygems"
type = "hosted"
anonymous_read = false

[[repository]]
name = "nuget"
format = "nuget"
type = "hosted"
anonymous_read = true

[[repository]]
name = "nuget-private"
format = "nuget"
type = "hosted"
anonymous_read = false
"#;

/// A fresh PostgreSQL database, dropped on drop.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(admin_url: &str) -> PgDatabase {
        let name = format!("t_{}", random_id());
        psql(admin_url, &format!("CREATE DATABASE {name}"));
        let url = replace_db_name(admin_url, &name);
        PgDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("PACKGATE_TEST_DATABASE_URL is set but psql could not be run");
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `postgres://u@h:p/db?x=y` with `db` replaced by `name`.
fn replace_db_name(url: &str, name: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let after_scheme = main.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match main[after_scheme..].find('/') {
        Some(i) => &main[..after_scheme + i],
        None => main,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Everything two instances of one deployment share: temp dir, config files, database, storage.
pub struct Stack {
    // Field order is drop order: the database goes before the temp dir.
    _database: Option<PgDatabase>,
    pub s3: bool,
    pub data_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub dir: TempDir,
}

impl Stack {
    /// A `packgate` command with this stack's config files and environment (no subcommand yet).
    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("PACKGATE__") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn config_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for f in &self.config_files {
            args.push("--config".to_owned());
            args.push(f.display().to_string());
        }
        args
    }
}

/// Why a server did not start.
#[derive(Debug)]
pub struct StartError {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Configures a test server; `TestServer::builder()`.
pub struct Builder {
    max_upload: Option<String>,
    extra_config: String,
    extra_files: Vec<(String, String)>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    no_config: bool,
    local_stack: bool,
}

impl Builder {
    /// `[server] max_upload` in the main config file, e.g. `"64 KiB"`.
    pub fn max_upload(mut self, size: &str) -> Self {
        self.max_upload = Some(size.to_owned());
        self
    }

    /// TOML appended verbatim to the main config file (e.g. more `[[repository]]` tables).
    pub fn extra_config(mut self, toml: &str) -> Self {
        self.extra_config.push_str(toml);
        self.extra_config.push('\n');
        self
    }

    /// Another config file (written into the temp dir as `file_name`), passed as a later `--config`.
    pub fn extra_config_file(mut self, file_name: &str, toml: &str) -> Self {
        self.extra_files
            .push((file_name.to_owned(), toml.to_owned()));
        self
    }

    /// An environment variable for the server (and for CLI calls through it).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Extra arguments after `serve --config …` (e.g. `--listen`, `--data-dir`, `--base-url`);
    /// `{data_dir}` is replaced by the harness data dir.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Start without any `--config` file (built-in defaults; give `--listen`/`--data-dir` via `arg`).
    pub fn no_config(mut self) -> Self {
        self.no_config = true;
        self
    }

    /// Use SQLite + filesystem even when PostgreSQL/S3 are configured in the environment.
    pub fn local_stack(mut self) -> Self {
        self.local_stack = true;
        self
    }

    /// Starts the server; panics (with the server's stderr) if it does not come up.
    pub fn start(self) -> TestServer {
        match self.try_start() {
            Ok(server) => server,
            Err(e) => panic!(
                "packgate did not start (exit status {:?})\n--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
                e.status,
                e.stdout,
                tail(&e.stderr, 60)
            ),
        }
    }

    /// Starts the server, or returns its exit status and output when it exits before listening.
    pub fn try_start(self) -> Result<TestServer, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("packgate-test-")
            .tempdir()
            .expect("temp dir");
        let data_dir = dir.path().join("data");
        fs::create_dir_all(&data_dir).expect("create data dir");
        let use_env = !self.local_stack && !self.no_config;
        let database = match std::env::var("PACKGATE_TEST_DATABASE_URL") {
            Ok(url) if use_env && !url.is_empty() => Some(PgDatabase::create(&url)),
            _ => None,
        };
        let s3_endpoint = std::env::var("PACKGATE_TEST_S3_ENDPOINT")
            .ok()
            .filter(|v| use_env && !v.is_empty());

        let mut config_files = Vec::new();
        if !self.no_config {
            let mut toml = format!(
                "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {}\n",
                toml_str(&data_dir.display().to_string())
            );
            if let Some(size) = &self.max_upload {
                toml.push_str(&format!("max_upload = {}\n", toml_str(size)));
            }
            if let Some(db) = &database {
                toml.push_str(&format!("\n[database]\nurl = {}\n", toml_str(&db.url)));
            }
            match &s3_endpoint {
                Some(endpoint) => {
                    let var = |k: &str, default: &str| {
                        std::env::var(format!("PACKGATE_TEST_S3_{k}"))
                            .unwrap_or_else(|_| default.to_owned())
                    };
                    toml.push_str(&format!(
                        "\n[storage]\ntype = \"s3\"\nbucket = {}\nregion = {}\nendpoint = {}\n\
                         access_key_id = {}\nsecret_access_key = {}\nforce_path_style = true\nprefix = {}\n",
                        toml_str(&var("BUCKET", "packgate-test")),
                        toml_str(&var("REGION", "us-east-1")),
                        toml_str(endpoint),
                        toml_str(&var("ACCESS_KEY", "")),
                        toml_str(&var("SECRET_KEY", "")),
                        toml_str(&format!("t-{}/", random_id())),
                    ));
                }
                None => toml.push_str("\n[storage]\ntype = \"filesystem\"\n"),
            }
            toml.push_str(DEFAULT_REPOSITORIES);
            toml.push('\n');
            toml.push_str(&self.extra_config);
            let main = dir.path().join("packgate.toml");
            fs::write(&main, toml).expect("write config");
            config_files.push(main);
        }
        for (name, contents) in &self.extra_files {
            let path = dir.path().join(name);
            fs::write(&path, contents).expect("write extra config");
            config_files.push(path);
        }

        // `{data_dir}` in flags and env values stands for the harness data dir.
        let placeholder = |v: &str| v.replace("{data_dir}", &data_dir.display().to_string());
        let env = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), placeholder(v)))
            .collect();
        let args = self.args.iter().map(|a| placeholder(a)).collect();
        let stack = Arc::new(Stack {
            _database: database,
            s3: s3_endpoint.is_some(),
            data_dir,
            config_files,
            env,
            args,
            dir,
        });
        TestServer::spawn(stack)
    }
}

/// A running `packgate serve` child process.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT` (from the server's "listening" line).
    pub base: String,
    pub port: u16,
    stderr_path: PathBuf,
    http: Client,
    pub stack: Arc<Stack>,
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder {
            max_upload: None,
            extra_config: String::new(),
            extra_files: Vec::new(),
            env: Vec::new(),
            args: Vec::new(),
            no_config: false,
            local_stack: false,
        }
    }

    /// A server with the default config (repositories `npm`, `npm-private`, `cargo`, `cargo-private`,
    /// `rubygems`, `rubygems-private`, `nuget`, `nuget-private`).
    pub fn start() -> TestServer {
        TestServer::builder().start()
    }

    /// A second instance of the same deployment: same config files, database and storage.
    pub fn start_second(&self) -> TestServer {
        TestServer::spawn(self.stack.clone()).unwrap_or_else(|e| {
            panic!(
                "second instance did not start ({:?}):\n{}",
                e.status,
                tail(&e.stderr, 60)
            )
        })
    }

    fn spawn(stack: Arc<Stack>) -> Result<TestServer, StartError> {
        let stderr_path = stack
            .dir
            .path()
            .join(format!("server-{}.stderr", random_id()));
        let stderr = fs::File::create(&stderr_path).expect("create stderr file");
        let mut cmd = stack.command();
        cmd.arg("serve").args(stack.config_args()).args(&stack.args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("spawn packgate");

        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Forward every stdout line; keep draining after the receiver is gone.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });

        let read_stderr = |p: &Path| fs::read_to_string(p).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut seen = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix("packgate listening on ") {
                        break url.trim().trim_end_matches('/').to_owned();
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    return Err(StartError {
                        status,
                        stdout: seen.join("\n"),
                        stderr: read_stderr(&stderr_path),
                    });
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Give the reader a moment to forward the last lines.
                while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                    seen.push(line);
                }
                return Err(StartError {
                    status: Some(status),
                    stdout: seen.join("\n"),
                    stderr: read_stderr(&stderr_path),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError {
                    status: None,
                    stdout: format!("(no listening line within 90 s)\n{}", seen.join("\n")),
                    stderr: read_stderr(&stderr_path),
                });
            }
        };
        let port = base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("cannot parse port from listening URL {base:?}"));
        let http = Client::new(&base);
        let server = TestServer {
            child,
            base,
            port,
            stderr_path,
            http,
            stack,
        };
        let healthy = wait_until(Duration::from_secs(30), || {
            server.http.agentless_status("/healthz") == Some(200)
        });
        assert!(
            healthy,
            "GET /healthz never answered 200\n{}",
            server.stderr_tail(60)
        );
        Ok(server)
    }

    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The registry URL npm is configured with: `{base}/{repo}/`.
    pub fn registry(&self, repo: &str) -> String {
        format!("{}/{}/", self.base, repo)
    }

    pub fn http(&self) -> &Client {
        &self.http
    }

    /// The server process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data_dir(&self) -> &Path {
        &self.stack.data_dir
    }

    /// Number of files under `<data_dir>/blobs` (recursively); `None` on the S3 stack.
    pub fn blob_count(&self) -> Option<usize> {
        if self.stack.s3 {
            return None;
        }
        fn count(p: &Path) -> usize {
            let Ok(entries) = fs::read_dir(p) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        }
        Some(count(&self.stack.data_dir.join("blobs")))
    }

    /// The last `lines` lines of the server's stderr.
    pub fn stderr_tail(&self, lines: usize) -> String {
        format!(
            "--- packgate stderr (tail) ---\n{}",
            tail(
                &fs::read_to_string(&self.stderr_path).unwrap_or_default(),
                lines
            )
        )
    }

    /// Runs `packgate ARGS --config …` against this deployment, optionally feeding `stdin`.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.stack.command();
        cmd.args(args).args(self.stack.config_args());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn packgate CLI");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).expect("write CLI stdin");
        }
        child.wait_with_output().expect("wait for packgate CLI")
    }

    /// Runs a CLI command that must succeed; returns its trimmed stdout.
    pub fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "packgate {args:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `packgate user add NAME --email NAME@example.test [--password-stdin]`.
    pub fn add_user(&self, name: &str, password: Option<&str>) {
        let email = format!("{name}@example.test");
        let mut args = vec!["user", "add", name, "--email", &email];
        if password.is_some() {
            args.push("--password-stdin");
        }
        let stdin = password.map(|p| format!("{p}\n"));
        self.cli_ok(&args, stdin.as_deref());
    }

    /// `packgate token create USER EXTRA…`; returns the token.
    pub fn create_token(&self, user: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "create", user];
        args.extend_from_slice(extra);
        let token = self.cli_ok(&args, None);
        assert!(
            !token.is_empty() && !token.contains(char::is_whitespace),
            "token create printed {token:?}"
        );
        token
    }

    /// `GET /metrics` with a token of a new admin user (metrics need the admin scope).
    pub fn metrics(&self) -> crate::support::Resp {
        let name = format!("metrics-{}", super::random_id());
        self.cli_ok(&["user", "add", &name, "--admin"], None);
        let token = self.create_token(&name, &["--scope", "admin"]);
        self.http().get_auth("/metrics", Some(&token))
    }

    /// Creates user `name` (password `<name>-password`) and a token with read, publish and delete
    /// scopes for all repositories.
    pub fn publisher(&self, name: &str) -> String {
        self.add_user(name, Some(&format!("{name}-password")));
        self.create_token(name, &["--scope", "read,publish,delete"])
    }

    /// Sends SIGTERM to this server's own child process.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.child.id());
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{} (server {})\n--- end of packgate stderr ---",
                self.stderr_tail(80),
                self.base
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    /// The status of a GET, or `None` on a transport error (used while waiting for startup).
    fn agentless_status(&self, path: &str) -> Option<u16> {
        let url = self.url(path);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        agent.get(&url).call().ok().map(|r| r.status().as_u16())
    }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A port that was free a moment ago (bind to :0, read, release).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
