//! The real npm client, isolated per test: its own HOME, cache, user config (`.npmrc` with
//! `registry=` and `//127.0.0.1:PORT/<repo>/:_authToken=`), no global config, no update notifier,
//! no proxy (every `npm_config_*` and proxy variable of the surrounding environment, in any case,
//! is removed, and `no_proxy` covers 127.0.0.1). Every command has a timeout and is killed (by its
//! own handle) when it hangs.

use super::server::TestServer;
use super::tool::{self, Input, ToolOut};
use packgate_npm::testing::Package;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(180);

/// An isolated npm setup for one registry repository.
pub struct Npm {
    home: TempDir,
    cache: PathBuf,
    registry: String,
    /// `//127.0.0.1:PORT/<repo>/` — the `.npmrc` credential key prefix.
    auth_key: String,
}

impl Npm {
    /// Whether `npm` can be run.
    pub fn installed() -> bool {
        Command::new("npm")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// npm configured for `{base}/{repo}/`, with `token` as `_authToken` when given.
    pub fn new(server: &TestServer, repo: &str, token: Option<&str>) -> Npm {
        let home = tempfile::Builder::new()
            .prefix("packgate-npm-")
            .tempdir()
            .expect("temp HOME");
        let cache = home.path().join("npm-cache");
        std::fs::create_dir_all(&cache).expect("cache dir");
        let npm = Npm {
            cache,
            registry: server.registry(repo),
            auth_key: format!("//127.0.0.1:{}/{repo}/", server.port),
            home,
        };
        npm.set_token(token);
        npm
    }

    pub fn userconfig(&self) -> PathBuf {
        self.home.path().join(".npmrc")
    }

    /// Rewrites `.npmrc` with the registry and (optionally) a token.
    pub fn set_token(&self, token: Option<&str>) {
        let mut rc = format!("registry={}\n", self.registry);
        if let Some(t) = token {
            rc.push_str(&format!("{}:_authToken={t}\n", self.auth_key));
        }
        std::fs::write(self.userconfig(), rc).expect("write .npmrc");
    }

    /// The `_authToken` currently in `.npmrc` for this registry, if any.
    pub fn configured_token(&self) -> Option<String> {
        let rc = std::fs::read_to_string(self.userconfig()).unwrap_or_default();
        let key = format!("{}:_authToken=", self.auth_key);
        rc.lines()
            .find_map(|l| l.trim().strip_prefix(&key).map(|t| t.trim().to_owned()))
    }

    /// A new empty directory inside this npm's HOME.
    pub fn new_dir(&self, name: &str) -> PathBuf {
        let dir = self
            .home
            .path()
            .join(format!("{name}-{}", super::random_id()));
        std::fs::create_dir_all(&dir).expect("create dir");
        dir
    }

    fn command(&self, dir: &Path, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir);
        tool::scrub_env(&mut cmd, |key| {
            key.starts_with("NPM_CONFIG_") || key.ends_with("_PROXY")
        });
        cmd.env("HOME", self.home.path())
            .env("npm_config_cache", &self.cache)
            .env("npm_config_userconfig", self.userconfig())
            .env(
                "npm_config_globalconfig",
                self.home.path().join("no-global-npmrc"),
            )
            .env("NPM_CONFIG_UPDATE_NOTIFIER", "false")
            .env("NPM_CONFIG_FUND", "false")
            .env("NO_PROXY", tool::NO_PROXY)
            .env("no_proxy", tool::NO_PROXY)
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `npm ARGS` in `dir` with stdin closed.
    pub fn run(&self, dir: &Path, args: &[&str]) -> ToolOut {
        self.run_program(dir, "npm", args, &[])
    }

    /// Runs `node ARGS` in `dir` with the same environment.
    pub fn node(&self, dir: &Path, args: &[&str]) -> ToolOut {
        self.run_program(dir, "node", args, &[])
    }

    /// Runs `npm ARGS` answering prompts: for each `(prompt, answer)`, waits until stdout or
    /// stderr shows `prompt` (after the previous one) and then writes `answer\n` to stdin.
    pub fn run_interactive(&self, dir: &Path, args: &[&str], answers: &[(&str, &str)]) -> ToolOut {
        self.run_program(dir, "npm", args, answers)
    }

    fn run_program(
        &self,
        dir: &Path,
        program: &str,
        args: &[&str],
        answers: &[(&str, &str)],
    ) -> ToolOut {
        tool::run(
            self.command(dir, program, args),
            format!("{program} {}", args.join(" ")),
            Input::Answers(answers),
            TIMEOUT,
        )
    }

    /// Writes `pkg` into a new directory and runs `npm publish EXTRA…` there.
    pub fn publish(&self, pkg: &Package, extra: &[&str]) -> ToolOut {
        let dir = self.new_dir(&format!(
            "pkg-{}",
            packgate_npm::testing::basename(pkg.name())
        ));
        pkg.write_to(&dir);
        let mut args = vec!["publish"];
        args.extend_from_slice(extra);
        self.run(&dir, &args)
    }
}
