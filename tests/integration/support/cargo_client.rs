//! The real cargo client, isolated per use: its own CARGO_HOME whose `config.toml` declares the
//! registry `packgate` (`sparse+{base}/{repo}/index/`) and `cargo:token` as the global credential
//! provider, the token in `CARGO_REGISTRIES_PACKGATE_TOKEN`, its own target dir, and
//! `CARGO_HTTP_TIMEOUT=30`. Every `CARGO*`, `__CARGO*` and proxy variable of the surrounding
//! `cargo test` is removed (`CARGO_NET_OFFLINE` in particular is never set). Outbound proxies
//! point at a closed local port with `no_proxy` for 127.0.0.1, so any request to a host other
//! than the test server fails instead of reaching the network. Every command has a timeout and is
//! killed (by its own handle) when it hangs.

use super::server::{TestServer, toml_str};
use super::tool::{self, Input, ToolOut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(300);

/// The registry name used in every test configuration.
pub const REGISTRY: &str = "packgate";

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
        tool::scrub_env(&mut cmd, |key| {
            key.starts_with("CARGO") || key.starts_with("__CARGO") || key.ends_with("_PROXY")
        });
        tool::blackhole_proxies(&mut cmd);
        cmd.env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_HTTP_TIMEOUT", "30")
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .env("CARGO_INCREMENTAL", "0");
        if let Some(t) = &self.token {
            cmd.env("CARGO_REGISTRIES_PACKGATE_TOKEN", t);
        }
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `cargo ARGS` in `dir` with stdin closed.
    pub fn run(&self, dir: &Path, args: &[&str]) -> ToolOut {
        tool::run(
            self.command(dir, args),
            format!("cargo {}", args.join(" ")),
            Input::Closed,
            TIMEOUT,
        )
    }

    /// Runs `cargo ARGS --registry packgate` in a scratch directory.
    pub fn registry_cmd(&self, args: &[&str]) -> ToolOut {
        let dir = self.new_dir("cmd");
        let mut all = args.to_vec();
        all.extend_from_slice(&["--registry", REGISTRY]);
        self.run(&dir, &all)
    }

    /// `cargo publish --registry packgate --allow-dirty [--no-verify]` in `dir`.
    pub fn publish(&self, dir: &Path, verify: bool) -> ToolOut {
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
