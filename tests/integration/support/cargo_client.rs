//! The real cargo client, isolated per use: its own CARGO_HOME whose `config.toml` declares the
//! registry `packgate` (`sparse+{base}/{repo}/index/`) and `cargo:token` as the global credential
//! provider, the token in `CARGO_REGISTRIES_PACKGATE_TOKEN`, its own target dir, and
//! `CARGO_HTTP_TIMEOUT=30`. Every `CARGO*` variable of the surrounding `cargo test` is removed
//! (`CARGO_NET_OFFLINE` in particular is never set). Outbound proxies point at a closed local port
//! with `no_proxy` for 127.0.0.1, so any request to a host other than the test server fails
//! instead of reaching the network. Every command has a timeout and is killed (by its own handle)
//! when it hangs.

use super::server::{TestServer, toml_str};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(300);

/// The registry name used in every test configuration.
pub const REGISTRY: &str = "packgate";

/// The output of one cargo command.
#[derive(Debug)]
pub struct CargoOut {
    pub cmd: String,
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl CargoOut {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.status, self.stdout, self.stderr
        )
    }

    /// Panics unless the command succeeded.
    pub fn ok(self) -> CargoOut {
        assert!(self.success(), "cargo command failed: {}", self.describe());
        self
    }

    /// Panics unless the command ran to completion with a non-zero exit.
    pub fn failed(self) -> CargoOut {
        assert!(
            self.status.is_some_and(|s| !s.success()),
            "cargo command should have failed: {}",
            self.describe()
        );
        self
    }

    /// Panics unless stderr or stdout contains one of `needles` (case-insensitive).
    pub fn mentions_any(self, needles: &[&str]) -> CargoOut {
        let all = format!("{}\n{}", self.stderr, self.stdout).to_lowercase();
        assert!(
            needles.iter().any(|n| all.contains(&n.to_lowercase())),
            "expected one of {needles:?} in the output of {}",
            self.describe()
        );
        self
    }

    /// Panics if stderr or stdout contains `needle` (case-insensitive).
    pub fn never_mentions(self, needle: &str) -> CargoOut {
        let all = format!("{}\n{}", self.stderr, self.stdout).to_lowercase();
        assert!(
            !all.contains(&needle.to_lowercase()),
            "unexpected {needle:?} in the output of {}",
            self.describe()
        );
        self
    }
}

/// A cargo installation with its own CARGO_HOME, configured for one packgate repository.
pub struct Cargo {
    root: TempDir,
    pub cargo_home: PathBuf,
    pub target_dir: PathBuf,
    /// `sparse+{base}/{repo}/index/`.
    pub index: String,
    token: Option<String>,
    extra_config: String,
    extra_env: Vec<(String, String)>,
}

impl Cargo {
    /// Whether `cargo` can be run at all.
    pub fn installed() -> bool {
        Command::new("cargo")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// cargo with registry `packgate` = `sparse+{base}/{repo}/index/` and `token` (if any).
    pub fn new(server: &TestServer, repo: &str, token: Option<&str>) -> Cargo {
        let root = tempfile::Builder::new()
            .prefix("packgate-cargo-")
            .tempdir()
            .expect("temp dir");
        let cargo_home = root.path().join("cargo-home");
        let target_dir = root.path().join("target");
        std::fs::create_dir_all(&cargo_home).expect("CARGO_HOME");
        let cargo = Cargo {
            cargo_home,
            target_dir,
            index: format!("sparse+{}/{repo}/index/", server.base),
            token: token.map(str::to_owned),
            extra_config: String::new(),
            extra_env: Vec::new(),
            root,
        };
        cargo.write_config();
        cargo
    }

    /// Appends `toml` to `config.toml` (e.g. `[source.*]` tables).
    pub fn with_config(mut self, toml: &str) -> Cargo {
        self.extra_config.push_str(toml);
        self.extra_config.push('\n');
        self.write_config();
        self
    }

    /// Declares another registry `name` (`index` = `sparse+…/`) with `token` in
    /// `CARGO_REGISTRIES_<NAME>_TOKEN`.
    pub fn with_registry(mut self, name: &str, index: &str, token: &str) -> Cargo {
        self.extra_config.push_str(&format!(
            "[registries.{name}]\nindex = {}\n\n",
            toml_str(index)
        ));
        self.extra_env.push((
            format!(
                "CARGO_REGISTRIES_{}_TOKEN",
                name.to_ascii_uppercase().replace('-', "_")
            ),
            token.to_owned(),
        ));
        self.write_config();
        self
    }

    fn write_config(&self) {
        let config = format!(
            "[registries.{REGISTRY}]\nindex = {}\n\n[registry]\nglobal-credential-providers = [\"cargo:token\"]\n\n{}",
            toml_str(&self.index),
            self.extra_config
        );
        std::fs::write(self.cargo_home.join("config.toml"), config).expect("write config.toml");
    }

    /// A new empty directory inside this cargo's temp dir.
    pub fn new_dir(&self, name: &str) -> PathBuf {
        let dir = self
            .root
            .path()
            .join(format!("{name}-{}", super::random_id()));
        std::fs::create_dir_all(&dir).expect("create dir");
        dir
    }

    /// Writes a project (`files` relative to its root, e.g. `Cargo.toml`, `src/lib.rs`) into a new
    /// directory and returns it.
    pub fn project(&self, name: &str, files: &[(&str, String)]) -> PathBuf {
        let dir = self.new_dir(name);
        write_files(&dir, files);
        dir
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.args(args).current_dir(dir);
        for (key, _) in std::env::vars() {
            let upper = key.to_ascii_uppercase();
            if upper.starts_with("CARGO")
                || upper.starts_with("__CARGO")
                || upper.ends_with("_PROXY")
            {
                cmd.env_remove(&key);
            }
        }
        let blackhole = "http://127.0.0.1:9";
        cmd.env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_HTTP_TIMEOUT", "30")
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .env("CARGO_INCREMENTAL", "0")
            .env("http_proxy", blackhole)
            .env("https_proxy", blackhole)
            .env("HTTPS_PROXY", blackhole)
            .env("no_proxy", "127.0.0.1,localhost")
            .env("NO_PROXY", "127.0.0.1,localhost");
        if let Some(t) = &self.token {
            cmd.env("CARGO_REGISTRIES_PACKGATE_TOKEN", t);
        }
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `cargo ARGS` in `dir` with stdin closed.
    pub fn run(&self, dir: &Path, args: &[&str]) -> CargoOut {
        let cmd_text = format!("cargo {}", args.join(" "));
        let mut cmd = self.command(dir, args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd_text}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = [
            pump(child.stdout.take().expect("stdout"), stdout.clone()),
            pump(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        for r in readers {
            let _ = r.join();
        }
        let text = |b: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&b.lock().expect("lock")).into_owned()
        };
        CargoOut {
            cmd: cmd_text,
            status,
            stdout: text(&stdout),
            stderr: text(&stderr),
        }
    }

    /// Runs `cargo ARGS --registry packgate` in a scratch directory.
    pub fn registry_cmd(&self, args: &[&str]) -> CargoOut {
        let dir = self.new_dir("cmd");
        let mut all = args.to_vec();
        all.extend_from_slice(&["--registry", REGISTRY]);
        self.run(&dir, &all)
    }

    /// `cargo publish --registry packgate --allow-dirty [--no-verify]` in `dir`.
    pub fn publish(&self, dir: &Path, verify: bool) -> CargoOut {
        let mut args = vec!["publish", "--registry", REGISTRY, "--allow-dirty"];
        if !verify {
            args.push("--no-verify");
        }
        self.run(dir, &args)
    }
}

/// Writes `files` (paths relative to `dir`) into `dir`.
pub fn write_files(dir: &Path, files: &[(&str, String)]) {
    for (path, contents) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(target, contents).expect("write file");
    }
}

fn pump(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().expect("lock").extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Prints the standard skip line and returns from the test when cargo is not installed.
#[macro_export]
macro_rules! require_cargo {
    () => {
        if !$crate::support::cargo_client::Cargo::installed() {
            $crate::support::missing_tool("cargo not installed");
            return;
        }
    };
}
