//! The real RubyGems (`gem`) and Bundler (`bundle`) clients, isolated per use: their own HOME,
//! GEM_HOME/GEM_PATH, GEMRC (whose only source is the test repository), XDG dirs,
//! BUNDLE_USER_HOME, BUNDLE_APP_CONFIG and BUNDLE_PATH under a temp dir. `HOME` and every `GEM*`,
//! `BUNDLE*`, `RUBY*`, `XDG_*` and proxy variable of the surrounding environment are removed;
//! outbound proxies point at a closed local port with `no_proxy` for 127.0.0.1, so a request to
//! any host but the test server fails instead of reaching the network. Commands that talk to a
//! source always name the test repository explicitly (`--clear-sources --source`, `--host`, a
//! Gemfile with only that source). Every command has a timeout and is killed (by its own handle)
//! when it hangs.

use super::TestServer;
use super::tool::{self, Input, ToolOut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(300);

/// gem + bundle with their own homes, pointed at one packgate RubyGems repository.
pub struct GemEnv {
    root: TempDir,
    pub home: PathBuf,
    pub gem_home: PathBuf,
    /// `{base}/{repo}` — what `gem push --host` takes.
    pub host: String,
    /// `{base}/{repo}/` — the source URL (`--source`, Gemfile).
    pub source: String,
    api_key: Option<String>,
}

impl GemEnv {
    /// Whether `gem` can be run at all.
    pub fn installed() -> bool {
        tool_runs("gem")
    }

    /// Whether `bundle` can be run at all.
    pub fn bundler_installed() -> bool {
        tool_runs("bundle")
    }

    /// A fresh environment for `{base}/{repo}/`; `api_key` goes into `GEM_HOST_API_KEY`.
    pub fn new(server: &TestServer, repo: &str, api_key: Option<&str>) -> GemEnv {
        Self::with_source(&format!("{}/{repo}", server.base), api_key)
    }

    /// A fresh environment for the source `host` (`http://…/repo`, may carry `user:pass@`).
    pub fn with_source(host: &str, api_key: Option<&str>) -> GemEnv {
        let root = tempfile::Builder::new()
            .prefix("packgate-gem-")
            .tempdir()
            .expect("temp dir");
        let home = root.path().join("home");
        let gem_home = root.path().join("gem-home");
        for d in [&home, &gem_home] {
            std::fs::create_dir_all(d).expect("create dir");
        }
        let host = host.trim_end_matches('/').to_owned();
        let source = format!("{host}/");
        let env = GemEnv {
            root,
            home,
            gem_home,
            host,
            source,
            api_key: api_key.map(str::to_owned),
        };
        let gemrc = format!(
            "---\n:sources:\n- {}\n:update_sources: false\n:backtrace: true\n:verbose: true\n",
            env.source
        );
        std::fs::write(env.gemrc(), gemrc).expect("write .gemrc");
        env
    }

    /// Replaces (or removes) the key given in `GEM_HOST_API_KEY`.
    pub fn set_api_key(&mut self, key: Option<&str>) {
        self.api_key = key.map(str::to_owned);
    }

    fn gemrc(&self) -> PathBuf {
        self.home.join(".gemrc")
    }

    /// Deletes everything Bundler installed (BUNDLE_PATH), keeping its compact-index cache under
    /// BUNDLE_USER_HOME: Bundler treats installed gems as candidates, yanked or not.
    pub fn remove_bundle_path(&self) {
        let path = self.root.path().join("bundle-path");
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove BUNDLE_PATH");
        }
    }

    /// A new empty directory inside this environment's temp dir.
    pub fn new_dir(&self, name: &str) -> PathBuf {
        let dir = self
            .root
            .path()
            .join(format!("{name}-{}", super::random_id()));
        std::fs::create_dir_all(&dir).expect("create dir");
        dir
    }

    fn command(&self, program: &str, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir);
        tool::scrub_env(&mut cmd, |key| {
            ["GEM", "BUNDLE", "RUBY", "XDG_"]
                .iter()
                .any(|prefix| key.starts_with(prefix))
                || key.ends_with("_PROXY")
                || key == "HOME"
        });
        tool::blackhole_proxies(&mut cmd);
        let root = self.root.path();
        cmd.env("HOME", &self.home)
            .env("GEM_HOME", &self.gem_home)
            .env("GEM_PATH", &self.gem_home)
            .env("GEM_SPEC_CACHE", root.join("spec-cache"))
            .env("GEMRC", self.gemrc())
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("XDG_CACHE_HOME", root.join("xdg-cache"))
            .env("XDG_DATA_HOME", root.join("xdg-data"))
            .env("BUNDLE_USER_HOME", root.join("bundle-home"))
            .env("BUNDLE_APP_CONFIG", root.join("bundle-config"))
            .env("BUNDLE_PATH", root.join("bundle-path"))
            .env("BUNDLE_SILENCE_ROOT_WARNING", "true")
            .env("BUNDLE_DISABLE_VERSION_CHECK", "true")
            .env("BUNDLE_TIMEOUT", "30")
            .env("BUNDLE_RETRY", "1")
            .env("BUNDLE_JOBS", "2")
            .env("LC_ALL", "C.UTF-8")
            .env("LANG", "C.UTF-8");
        if let Some(key) = &self.api_key {
            cmd.env("GEM_HOST_API_KEY", key);
        }
        cmd
    }

    /// Runs `program ARGS` in `dir`, feeding `stdin` (closed when `None`).
    pub fn run(&self, program: &str, dir: &Path, args: &[&str], stdin: Option<&str>) -> ToolOut {
        let mut cmd = self.command(program, dir);
        cmd.args(args);
        tool::run(
            cmd,
            format!("{program} {}", args.join(" ")),
            stdin.map_or(Input::Closed, Input::Text),
            TIMEOUT,
        )
    }

    /// `gem ARGS` in a scratch directory.
    pub fn gem(&self, args: &[&str]) -> ToolOut {
        let dir = self.new_dir("gem");
        self.run("gem", &dir, args, None)
    }

    /// `gem ARGS` in `dir`.
    pub fn gem_in(&self, dir: &Path, args: &[&str]) -> ToolOut {
        self.run("gem", dir, args, None)
    }

    /// `bundle ARGS` in `dir`.
    pub fn bundle(&self, dir: &Path, args: &[&str]) -> ToolOut {
        self.run("bundle", dir, args, None)
    }

    /// `ruby ARGS` in a scratch directory.
    pub fn ruby(&self, args: &[&str]) -> ToolOut {
        let dir = self.new_dir("ruby");
        self.run("ruby", &dir, args, None)
    }

    /// Writes a gem project into a new directory and runs `gem build`; returns the `.gem` path.
    pub fn build(&self, project: &GemProject) -> PathBuf {
        let dir = self.new_dir(&project.name);
        project.write_to(&dir);
        let spec = format!("{}.gemspec", project.name);
        self.gem_in(&dir, &["build", &spec]).ok();
        let file = dir.join(project.file_name());
        assert!(file.is_file(), "gem build did not write {}", file.display());
        file
    }

    /// `gem push FILE --host {host}`.
    pub fn push(&self, file: &Path) -> ToolOut {
        let path = file.display().to_string();
        self.gem(&["push", &path, "--host", &self.host])
    }

    /// `gem install ARGS --clear-sources --source {source} --no-document`.
    pub fn install(&self, args: &[&str]) -> ToolOut {
        let mut all = vec!["install"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--clear-sources", "--source", &self.source, "--no-document"]);
        self.gem(&all)
    }

    /// Writes a Gemfile whose only source is this repository, followed by `body`, into a new
    /// directory and returns it.
    pub fn bundle_project(&self, name: &str, body: &str) -> PathBuf {
        let dir = self.new_dir(name);
        std::fs::write(
            dir.join("Gemfile"),
            format!("source \"{}\"\n\n{body}", self.host),
        )
        .expect("write Gemfile");
        dir
    }
}

fn tool_runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A gem project for `gem build`: `{name}.gemspec` plus `lib/{name}.rb`.
#[derive(Clone, Debug)]
pub struct GemProject {
    pub name: String,
    pub version: String,
    pub platform: Option<String>,
    /// (name, constraints) runtime dependencies.
    pub deps: Vec<(String, Vec<String>)>,
    pub lib_rb: String,
}

impl GemProject {
    pub fn new(name: &str, version: &str, lib_rb: &str) -> GemProject {
        GemProject {
            name: name.to_owned(),
            version: version.to_owned(),
            platform: None,
            deps: Vec::new(),
            lib_rb: lib_rb.to_owned(),
        }
    }

    pub fn platform(mut self, platform: &str) -> GemProject {
        self.platform = Some(platform.to_owned());
        self
    }

    pub fn dep(mut self, name: &str, reqs: &[&str]) -> GemProject {
        self.deps.push((
            name.to_owned(),
            reqs.iter().map(|r| r.to_string()).collect(),
        ));
        self
    }

    /// `{name}-{version}[-{platform}].gem`.
    pub fn file_name(&self) -> String {
        match &self.platform {
            Some(p) => format!("{}-{}-{p}.gem", self.name, self.version),
            None => format!("{}-{}.gem", self.name, self.version),
        }
    }

    pub fn gemspec(&self) -> String {
        let mut s = format!(
            "Gem::Specification.new do |s|\n  s.name = {:?}\n  s.version = {:?}\n  \
             s.summary = \"{} test gem\"\n  s.authors = [\"packgate tests\"]\n  \
             s.license = \"MIT\"\n  s.files = [\"lib/{}.rb\"]\n",
            self.name, self.version, self.name, self.name
        );
        if let Some(p) = &self.platform {
            s.push_str(&format!("  s.platform = {p:?}\n"));
        }
        for (name, reqs) in &self.deps {
            let reqs: Vec<String> = reqs.iter().map(|r| format!("{r:?}")).collect();
            s.push_str(&format!(
                "  s.add_runtime_dependency {name:?}, {}\n",
                reqs.join(", ")
            ));
        }
        s.push_str("end\n");
        s
    }

    pub fn write_to(&self, dir: &Path) {
        std::fs::create_dir_all(dir.join("lib")).expect("create lib");
        std::fs::write(dir.join(format!("{}.gemspec", self.name)), self.gemspec())
            .expect("write gemspec");
        std::fs::write(dir.join(format!("lib/{}.rb", self.name)), &self.lib_rb).expect("write lib");
    }
}

/// Whether the server answered a ranged `versions` request of `repo` with 206: from `/metrics`
/// (`packgate_http_requests_total{repo=…,route="versions",status="206"}`) or, failing that, from
/// a request log line naming route `versions` and status 206.
pub fn served_versions_206(server: &TestServer, repo: &str) -> bool {
    let metrics = server.metrics();
    if metrics.status == 200 {
        let repo_label = format!("repo=\"{repo}\"");
        let hit = metrics.text().lines().any(|l| {
            l.starts_with("packgate_http_requests_total")
                && l.contains(&repo_label)
                && l.contains("route=\"versions\"")
                && l.contains("status=\"206\"")
                && l.rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<f64>().ok())
                    .is_some_and(|n| n > 0.0)
        });
        if hit {
            return true;
        }
    }
    let log = server.stderr_tail(1_000_000);
    log.lines().any(|l| {
        let route = l.contains("route=\"versions\"")
            || l.contains("route=versions")
            || l.contains("\"route\":\"versions\"");
        let status = l.contains("http.status=206") || l.contains("\"http.status\":206");
        route && status && l.contains(&format!("/{repo}/versions"))
    })
}

/// Prints the standard skip line and returns from the test when gem is not installed.
#[macro_export]
macro_rules! require_gem {
    () => {
        if !$crate::support::gem_client::GemEnv::installed() {
            $crate::support::missing_tool("gem not installed");
            return;
        }
    };
}

/// Prints the standard skip line and returns from the test when gem or bundle is not installed.
#[macro_export]
macro_rules! require_bundler {
    () => {
        $crate::require_gem!();
        if !$crate::support::gem_client::GemEnv::bundler_installed() {
            $crate::support::missing_tool("bundle not installed");
            return;
        }
    };
}
