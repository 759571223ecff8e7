//! The real npm client, isolated per test: its own HOME, cache, user config (`.npmrc` with
//! `registry=` and `//127.0.0.1:PORT/<repo>/:_authToken=`), no global config, no update notifier,
//! no proxy. Every command has a timeout and is killed (by its own handle) when it hangs.

use super::Package;
use super::server::TestServer;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(180);

/// The output of one npm command.
#[derive(Debug)]
pub struct NpmOut {
    pub cmd: String,
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl NpmOut {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.status, self.stdout, self.stderr
        )
    }

    /// Panics unless the command succeeded.
    pub fn ok(self) -> NpmOut {
        assert!(self.success(), "npm command failed: {}", self.describe());
        self
    }

    /// Panics unless the command failed (ran to completion with a non-zero exit).
    pub fn failed(self) -> NpmOut {
        assert!(
            self.status.is_some_and(|s| !s.success()),
            "npm command should have failed: {}",
            self.describe()
        );
        self
    }

    /// Panics unless stderr (or stdout) contains one of `needles` (case-insensitive).
    pub fn mentions_any(self, needles: &[&str]) -> NpmOut {
        let all = format!("{}\n{}", self.stderr, self.stdout).to_lowercase();
        assert!(
            needles.iter().any(|n| all.contains(&n.to_lowercase())),
            "expected npm output to mention one of {needles:?}: {}",
            self.describe()
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("npm stdout is not JSON ({e}): {}", self.describe()))
    }
}

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
        for (key, _) in std::env::vars() {
            let lower = key.to_ascii_lowercase();
            if lower.starts_with("npm_config_") || lower.ends_with("_proxy") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", self.home.path())
            .env("npm_config_cache", &self.cache)
            .env("npm_config_userconfig", self.userconfig())
            .env(
                "npm_config_globalconfig",
                self.home.path().join("no-global-npmrc"),
            )
            .env("NPM_CONFIG_UPDATE_NOTIFIER", "false")
            .env("NPM_CONFIG_FUND", "false")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `npm ARGS` in `dir` with stdin closed.
    pub fn run(&self, dir: &Path, args: &[&str]) -> NpmOut {
        self.run_program(dir, "npm", args, &[])
    }

    /// Runs `node ARGS` in `dir` with the same environment.
    pub fn node(&self, dir: &Path, args: &[&str]) -> NpmOut {
        self.run_program(dir, "node", args, &[])
    }

    /// Runs `npm ARGS` answering prompts: for each `(prompt, answer)`, waits until stdout or
    /// stderr shows `prompt` (after the previous one) and then writes `answer\n` to stdin.
    pub fn run_interactive(&self, dir: &Path, args: &[&str], answers: &[(&str, &str)]) -> NpmOut {
        self.run_program(dir, "npm", args, answers)
    }

    fn run_program(
        &self,
        dir: &Path,
        program: &str,
        args: &[&str],
        answers: &[(&str, &str)],
    ) -> NpmOut {
        let cmd_text = format!("{program} {}", args.join(" "));
        let mut cmd = self.command(dir, program, args);
        cmd.stdin(if answers.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
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
        let mut stdin = child.stdin.take();
        // How far each stream has been searched for prompts: [stdout, stderr].
        let mut searched = [0usize; 2];
        let mut pending = answers.iter();
        let mut next = pending.next();
        let status = loop {
            if let Some((prompt, answer)) = next {
                let mut found = false;
                for (i, stream) in [&stdout, &stderr].into_iter().enumerate() {
                    let text = String::from_utf8_lossy(&stream.lock().expect("lock")).into_owned();
                    if let Some(pos) = text.get(searched[i]..).and_then(|rest| rest.find(prompt)) {
                        searched[i] += pos + prompt.len();
                        found = true;
                        break;
                    }
                }
                if found {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Some(pipe) = stdin.as_mut() {
                        let _ = pipe.write_all(format!("{answer}\n").as_bytes());
                        let _ = pipe.flush();
                    }
                    next = pending.next();
                    if next.is_none() {
                        stdin = None; // close: no more input
                    }
                }
            }
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
        drop(stdin);
        for r in readers {
            let _ = r.join();
        }
        let text = |b: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&b.lock().expect("lock")).into_owned()
        };
        NpmOut {
            cmd: cmd_text,
            status,
            stdout: text(&stdout),
            stderr: text(&stderr),
        }
    }

    /// Writes `pkg` into a new directory and runs `npm publish EXTRA…` there.
    pub fn publish(&self, pkg: &Package, extra: &[&str]) -> NpmOut {
        let dir = self.new_dir(&format!(
            "pkg-{}",
            super::publish_body::basename(pkg.name())
        ));
        pkg.write_to(&dir);
        let mut args = vec!["publish"];
        args.extend_from_slice(extra);
        self.run(&dir, &args)
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
