//! The real NuGet client (NuGet.exe 5.8 on mono), isolated per use: its own HOME,
//! XDG_CONFIG_HOME, TMPDIR (NuGetScratch), NUGET_PACKAGES and a fresh NUGET_HTTP_CACHE_PATH per
//! command (NuGet.exe caches registration documents for 30 minutes even with `-NoCache`), all
//! under a temp dir. Its NuGet.Config (`<clear/>`, one source `packgate` with
//! `protocolVersion="3"` and `allowInsecureConnections="true"`, optional
//! `<packageSourceCredentials>` with the token as ClearTextPassword) is written as the user-level
//! config, into the work directory every command runs in (for `search`, which takes no
//! `-ConfigFile`), and passed with `-ConfigFile` wherever NuGet.exe accepts it. `HOME` and every
//! `NUGET*`, `MONO*`, `DOTNET*`, `XDG_*`, proxy and temp-dir variable of the surrounding
//! environment are removed; outbound proxies point at a closed local port with `no_proxy` for
//! 127.0.0.1 (mono honours both), so a request to any host but the test server fails instead of
//! reaching the network. Every command runs with `-NonInteractive`, closed stdin and a timeout,
//! and is killed (by its own handle) when it hangs.
//!
//! NuGet.exe comes from `PACKGATE_NUGET_EXE`, else from the npm package `nuget-exe@5.8.0` that
//! `tools/nuget-exe.sh` (run by `.ci/run`) installs under `${PACKGATE_TOOLS_ROOT:-$HOME/.cache/
//! packgate-tools}/nuget-exe`.

use super::TestServer;
use super::tool::{self, Input, ToolOut};
use packgate_nuget::testing::xml_escape;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(300);

/// The source key in every test NuGet.Config.
pub const SOURCE_KEY: &str = "packgate";

/// NuGet.exe with its own homes and caches, configured for one packgate NuGet repository.
pub struct NuGet {
    root: TempDir,
    pub home: PathBuf,
    /// Where every command runs; holds a copy of the NuGet.Config.
    pub work: PathBuf,
    pub config: PathBuf,
    /// `{base}/{repo}/v3/index.json`.
    pub source: String,
    exe: PathBuf,
}

impl NuGet {
    /// The NuGet.exe to run, if it exists.
    pub fn exe() -> Option<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let path = match var("PACKGATE_NUGET_EXE") {
            Some(p) => PathBuf::from(p),
            None => {
                // Where tools/nuget-exe.sh installs it.
                let root = match var("PACKGATE_TOOLS_ROOT") {
                    Some(r) => PathBuf::from(r),
                    None => PathBuf::from(var("HOME")?).join(".cache/packgate-tools"),
                };
                root.join("nuget-exe/node_modules/nuget-exe/nuget-5.8.0.exe")
            }
        };
        path.is_file().then_some(path)
    }

    /// Whether mono runs and NuGet.exe is there.
    pub fn installed() -> bool {
        let mono = Command::new("mono")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mono && Self::exe().is_some()
    }

    /// NuGet.exe pointed at `{base}/{repo}/v3/index.json`; `credentials` (user, token) go into
    /// `<packageSourceCredentials>`.
    pub fn new(server: &TestServer, repo: &str, credentials: Option<(&str, &str)>) -> NuGet {
        Self::with_source(
            &format!("{}/{repo}/v3/index.json", server.base),
            credentials,
        )
    }

    /// NuGet.exe pointed at the service index `source`.
    pub fn with_source(source: &str, credentials: Option<(&str, &str)>) -> NuGet {
        let exe = Self::exe().expect("NuGet.exe (check NuGet::installed first)");
        let root = tempfile::Builder::new()
            .prefix("packgate-nuget-")
            .tempdir()
            .expect("temp dir");
        let home = root.path().join("home");
        let work = root.path().join("work");
        let xdg_nuget = root.path().join("xdg-config").join("NuGet");
        for d in [&home, &work, &xdg_nuget, &root.path().join("tmp")] {
            std::fs::create_dir_all(d).expect("create dir");
        }
        let config_text = nuget_config(source, credentials);
        let config = root.path().join("NuGet.Config");
        for path in [
            &config,
            &work.join("NuGet.Config"),
            &xdg_nuget.join("NuGet.Config"),
        ] {
            std::fs::write(path, &config_text).expect("write NuGet.Config");
        }
        NuGet {
            root,
            home,
            work,
            config,
            source: source.to_owned(),
            exe,
        }
    }

    /// A new empty directory inside this client's temp dir.
    pub fn new_dir(&self, name: &str) -> PathBuf {
        let dir = self
            .root
            .path()
            .join(format!("{name}-{}", super::random_id()));
        std::fs::create_dir_all(&dir).expect("create dir");
        dir
    }

    /// The global packages folder (`NUGET_PACKAGES`).
    pub fn global_packages(&self) -> PathBuf {
        self.root.path().join("global-packages")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("mono");
        cmd.current_dir(&self.work);
        tool::scrub_env(&mut cmd, |key| {
            ["NUGET", "MONO", "DOTNET", "XDG_"]
                .iter()
                .any(|prefix| key.starts_with(prefix))
                || key.ends_with("_PROXY")
                || matches!(key, "HOME" | "TMPDIR" | "TEMP" | "TMP")
        });
        tool::blackhole_proxies(&mut cmd);
        let root = self.root.path();
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("XDG_CACHE_HOME", root.join("xdg-cache"))
            .env("XDG_DATA_HOME", root.join("xdg-data"))
            .env("TMPDIR", root.join("tmp"))
            .env("NUGET_PACKAGES", self.global_packages())
            .env(
                "NUGET_HTTP_CACHE_PATH",
                root.join(format!("http-cache-{}", super::random_id())),
            )
            .env("LC_ALL", "C.UTF-8")
            .env("LANG", "C.UTF-8");
        cmd
    }

    /// `mono NuGet.exe ARGS -NonInteractive` in the work directory.
    ///
    /// mono 6.8 now and then aborts (SIGABRT) while NuGet.exe shuts down, after the command has
    /// done its work. A run that dies by a signal is therefore run once more (and said so on
    /// stderr); a push that the first run reported as pushed is repeated with `-SkipDuplicate`,
    /// so the second run confirms it instead of failing with 409. Runs that end with an exit
    /// code, or time out, are never repeated.
    pub fn run(&self, args: &[&str]) -> ToolOut {
        let first = self.run_once(args);
        let signal = first
            .status
            .and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
        let Some(signal) = signal else {
            return first;
        };
        eprintln!(
            "NuGet.exe died by signal {signal}; running it once more: {}",
            first.describe()
        );
        let mut again: Vec<&str> = args.to_vec();
        if args.first() == Some(&"push")
            && first.stdout.contains("Your package was pushed")
            && !args.contains(&"-SkipDuplicate")
        {
            again.push("-SkipDuplicate");
        }
        self.run_once(&again)
    }

    fn run_once(&self, args: &[&str]) -> ToolOut {
        let mut all: Vec<&str> = args.to_vec();
        all.push("-NonInteractive");
        let mut cmd = self.command();
        cmd.arg(&self.exe).args(&all);
        tool::run(
            cmd,
            format!("nuget {}", all.join(" ")),
            Input::Closed,
            TIMEOUT,
        )
    }

    /// `ARGS -ConfigFile <config>` (for the commands that accept it).
    pub fn run_with_config(&self, args: &[&str]) -> ToolOut {
        let config = self.config.display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["-ConfigFile", &config]);
        self.run(&all)
    }

    /// `push FILE -Source {source} [-ApiKey KEY] EXTRA…`.
    pub fn push(&self, file: &Path, api_key: Option<&str>, extra: &[&str]) -> ToolOut {
        let path = file.display().to_string();
        let mut args = vec!["push", &path, "-Source", &self.source];
        if let Some(k) = api_key {
            args.extend_from_slice(&["-ApiKey", k]);
        }
        args.extend_from_slice(extra);
        self.run_with_config(&args)
    }

    /// `install ID -Source {source} -OutputDirectory <new dir> -NoCache -DirectDownload EXTRA…`;
    /// returns the output and the directory.
    pub fn install(&self, id: &str, extra: &[&str]) -> (ToolOut, PathBuf) {
        let dir = self.new_dir("installed");
        let out_dir = dir.display().to_string();
        let mut args = vec![
            "install",
            id,
            "-Source",
            &self.source,
            "-OutputDirectory",
            &out_dir,
            "-NoCache",
            "-DirectDownload",
        ];
        args.extend_from_slice(extra);
        (self.run_with_config(&args), dir)
    }

    /// `search TERMS -Source {source} EXTRA…` (search takes no `-ConfigFile`; the work
    /// directory's NuGet.Config applies).
    pub fn search(&self, terms: &str, extra: &[&str]) -> ToolOut {
        let mut args = vec!["search", terms, "-Source", &self.source];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `delete ID VERSION -Source {source} [-ApiKey KEY]`.
    pub fn delete(&self, id: &str, version: &str, api_key: Option<&str>) -> ToolOut {
        let mut args = vec!["delete", id, version, "-Source", &self.source];
        if let Some(k) = api_key {
            args.extend_from_slice(&["-ApiKey", k]);
        }
        self.run_with_config(&args)
    }

    /// Writes `nuspec` (named `{id}.nuspec`) and `files` into a new directory and runs
    /// `nuget pack`; returns the `.nupkg` written.
    pub fn pack(&self, id: &str, nuspec: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir = self.new_dir(&format!("pack-{id}"));
        for (path, bytes) in files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("create dir");
            std::fs::write(&full, bytes).expect("write file");
        }
        let spec = dir.join(format!("{id}.nuspec"));
        std::fs::write(&spec, nuspec).expect("write nuspec");
        let out = dir.join("out");
        let spec_text = spec.display().to_string();
        let out_text = out.display().to_string();
        self.run_with_config(&["pack", &spec_text, "-OutputDirectory", &out_text])
            .ok();
        let mut written: Vec<PathBuf> = std::fs::read_dir(&out)
            .expect("pack output dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "nupkg"))
            .collect();
        assert_eq!(written.len(), 1, "nuget pack wrote {written:?}");
        written.remove(0)
    }
}

/// A NuGet.Config with only `source` (plus credentials when given).
pub fn nuget_config(source: &str, credentials: Option<(&str, &str)>) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    \
         <clear />\n    <add key=\"{SOURCE_KEY}\" value=\"{}\" protocolVersion=\"3\" \
         allowInsecureConnections=\"true\" />\n  </packageSources>\n",
        xml_escape(source)
    );
    if let Some((user, token)) = credentials {
        s.push_str(&format!(
            "  <packageSourceCredentials>\n    <{SOURCE_KEY}>\n      <add key=\"Username\" \
             value=\"{}\" />\n      <add key=\"ClearTextPassword\" value=\"{}\" />\n    \
             </{SOURCE_KEY}>\n  </packageSourceCredentials>\n",
            xml_escape(user),
            xml_escape(token)
        ));
    }
    s.push_str("</configuration>\n");
    s
}

/// Directories directly under `dir` whose name starts with `{prefix}` (case-insensitive), sorted.
pub fn dirs_starting_with(dir: &Path, prefix: &str) -> Vec<String> {
    let prefix = prefix.to_ascii_lowercase();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.to_ascii_lowercase().starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The `.nupkg` inside an install folder `dir/{folder}`.
pub fn installed_nupkg(dir: &Path, folder: &str) -> Vec<u8> {
    let folder_path = dir.join(folder);
    let file = std::fs::read_dir(&folder_path)
        .unwrap_or_else(|e| panic!("read {}: {e}", folder_path.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "nupkg"))
        .unwrap_or_else(|| panic!("no .nupkg in {}", folder_path.display()));
    std::fs::read(&file).expect("read installed nupkg")
}

/// Every request the server logged so far as (method, path, status), from its request log
/// lines (text `http.method=GET http.path=/… http.status=200` or the JSON equivalent).
pub fn served_requests(server: &TestServer) -> Vec<(String, String, u16)> {
    let log = server.stderr_tail(10_000_000);
    log.lines()
        .filter_map(|l| {
            let method = log_field(l, "http.method")?;
            let path = log_field(l, "http.path")?;
            let status = log_field(l, "http.status")?.parse().ok()?;
            Some((method, path, status))
        })
        .collect()
}

fn log_field(line: &str, key: &str) -> Option<String> {
    for (pat, quoted) in [(format!("{key}="), false), (format!("\"{key}\":"), true)] {
        if let Some(at) = line.find(&pat) {
            let rest = &line[at + pat.len()..];
            let rest = rest.trim_start_matches('"');
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == ',' || (quoted && c == '}'))
                .unwrap_or(rest.len());
            return Some(rest[..end].to_owned());
        }
    }
    None
}

/// Prints the standard skip line and returns from the test when mono or NuGet.exe is missing.
#[macro_export]
macro_rules! require_nuget {
    () => {
        if !$crate::support::nuget_client::NuGet::installed() {
            $crate::support::missing_tool(
                "mono or NuGet.exe not installed (set PACKGATE_NUGET_EXE)",
            );
            return;
        }
    };
}
