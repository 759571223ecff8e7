//! Layering: defaults < `--config` files (in order) < `PACKGATE__*` environment < flags.
//!
//! Two files that set the same key to different values is an error naming both files; unknown keys
//! are errors naming the key (serde's `deny_unknown_fields`, reported per file with its line).

use super::Config;
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Default, Clone)]
pub struct FlagOverrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--base-url`
    pub base_url: Option<String>,
}

/// Scalar keys the environment may set, with their TOML type.
const ENV_KEYS: &[(&str, Kind)] = &[
    ("server.listen", Kind::Str),
    ("server.base_url", Kind::Str),
    ("server.data_dir", Kind::Str),
    ("server.max_upload", Kind::Str),
    ("server.shutdown_timeout", Kind::Int),
    ("server.body_timeout", Kind::Int),
    ("server.metrics_access", Kind::Str),
    ("server.doc_cache_size", Kind::Str),
    ("server.log_format", Kind::Str),
    ("server.workers", Kind::Int),
    ("database.url", Kind::Str),
    ("database.max_connections", Kind::Int),
    ("storage.type", Kind::Str),
    ("storage.path", Kind::Str),
    ("storage.bucket", Kind::Str),
    ("storage.region", Kind::Str),
    ("storage.endpoint", Kind::Str),
    ("storage.access_key_id", Kind::Str),
    ("storage.secret_access_key", Kind::Str),
    ("storage.force_path_style", Kind::Bool),
    ("storage.prefix", Kind::Str),
];

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
}

/// Loads and validates the configuration from all layers, reading the process environment.
pub fn load(files: &[PathBuf], flags: &FlagOverrides) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(files, &env, flags)
}

/// [`load`] with an explicit environment (for tests).
pub fn load_with_env(
    files: &[PathBuf],
    env: &[(String, String)],
    flags: &FlagOverrides,
) -> anyhow::Result<Config> {
    let mut merged = Table::new();
    let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut repositories: Vec<Value> = Vec::new();
    for file in expand(files)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read config file {}", file.display()))?;
        // Parsing the file alone as a Config reports unknown keys and wrong types with this file's line.
        toml::from_str::<Config>(&text)
            .map_err(|e| anyhow::anyhow!("config file {}: {e}", file.display()))?;
        let mut table: Table = toml::from_str(&text)?;
        if let Some(Value::Array(repos)) = table.remove("repository") {
            repositories.extend(repos);
        }
        merge(&mut merged, table, "", &file, &mut origin)?;
    }
    if !repositories.is_empty() {
        merged.insert("repository".into(), Value::Array(repositories));
    }
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("PACKGATE__") else {
            continue;
        };
        let (rest, from_file) = match rest.strip_suffix("__FILE") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let Some((_, kind)) = ENV_KEYS.iter().find(|(k, _)| *k == key) else {
            bail!(
                "environment variable {name} matches no configuration key (known: {})",
                known_env_names()
            );
        };
        let raw = if from_file {
            std::fs::read_to_string(raw)
                .with_context(|| format!("{name}: cannot read {raw}"))?
                .trim_end()
                .to_string()
        } else {
            raw.clone()
        };
        let value = match kind {
            Kind::Str => Value::String(raw),
            Kind::Int => Value::Integer(
                raw.parse()
                    .with_context(|| format!("{name} must be an integer"))?,
            ),
            Kind::Bool => Value::Boolean(match raw.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("{name} must be true or false"),
            }),
        };
        set_path(&mut merged, &key, value);
    }
    if let Some(v) = &flags.listen {
        set_path(&mut merged, "server.listen", Value::String(v.clone()));
    }
    if let Some(v) = &flags.data_dir {
        set_path(
            &mut merged,
            "server.data_dir",
            Value::String(v.display().to_string()),
        );
    }
    if let Some(v) = &flags.base_url {
        set_path(&mut merged, "server.base_url", Value::String(v.clone()));
    }
    let mut config: Config = Value::Table(merged)
        .try_into()
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    config.validate()?;
    Ok(config)
}

fn known_env_names() -> String {
    ENV_KEYS
        .iter()
        .map(|(k, _)| format!("PACKGATE__{}", k.replace('.', "__").to_ascii_uppercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files as given, with a directory standing for its `*.toml` files in name order.
fn expand(files: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(f)
                .with_context(|| format!("cannot read config directory {}", f.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

fn merge(
    dst: &mut Table,
    src: Table,
    prefix: &str,
    file: &Path,
    origin: &mut BTreeMap<String, PathBuf>,
) -> anyhow::Result<()> {
    for (k, v) in src {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (dst.get_mut(&k), v) {
            (Some(Value::Table(d)), Value::Table(s)) => merge(d, s, &path, file, origin)?,
            (Some(existing), v) => {
                if *existing != v {
                    let first = origin
                        .get(&path)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    bail!(
                        "configuration key `{path}` is set differently in {first} and {} (set it in one file only)",
                        file.display()
                    );
                }
            }
            (None, v) => {
                record(&v, &path, file, origin);
                dst.insert(k, v);
            }
        }
    }
    Ok(())
}

fn record(v: &Value, path: &str, file: &Path, origin: &mut BTreeMap<String, PathBuf>) {
    match v {
        Value::Table(t) => {
            for (k, v) in t {
                record(v, &format!("{path}.{k}"), file, origin);
            }
        }
        _ => {
            origin.insert(path.to_string(), file.to_path_buf());
        }
    }
}

fn set_path(root: &mut Table, dotted: &str, value: Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut table = root;
    for p in parts {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(t) = entry else { return };
        table = t;
    }
    table.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn no_configuration_gives_one_hosted_repository_per_format() {
        let c = load_with_env(&[], &[], &FlagOverrides::default()).unwrap();
        let names: Vec<&str> = c.repository.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["npm", "cargo", "rubygems", "nuget"]);
        assert!(c.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn file_then_env_then_flag_take_precedence_in_that_order() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            "a.toml",
            "[server]\nlisten = \"127.0.0.1:1\"\nmax_upload = \"1 MiB\"\nworkers = 3\n",
        );
        let c = load_with_env(std::slice::from_ref(&f), &[], &FlagOverrides::default()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:1");
        let env = vec![
            (
                "PACKGATE__SERVER__LISTEN".to_string(),
                "127.0.0.1:2".to_string(),
            ),
            ("PACKGATE__SERVER__WORKERS".to_string(), "5".to_string()),
        ];
        let c = load_with_env(std::slice::from_ref(&f), &env, &FlagOverrides::default()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:2");
        assert_eq!(c.server.workers, 5);
        assert_eq!(c.server.max_upload.0, 1 << 20);
        let flags = FlagOverrides {
            listen: Some("127.0.0.1:3".into()),
            ..Default::default()
        };
        let c = load_with_env(&[f], &env, &flags).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:3");
    }

    #[test]
    fn two_files_setting_one_key_differently_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.toml", "[server]\nlisten = \"127.0.0.1:1\"\n");
        let b = write(dir.path(), "b.toml", "[server]\nlisten = \"127.0.0.1:2\"\n");
        let err = load_with_env(&[a, b], &[], &FlagOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.toml") && err.contains("b.toml") && err.contains("server.listen"),
            "{err}"
        );
        let c = write(dir.path(), "c.toml", "[server]\nlisten = \"127.0.0.1:1\"\n");
        let d = write(dir.path(), "d.toml", "[server]\nlisten = \"127.0.0.1:1\"\n");
        assert!(load_with_env(&[c, d], &[], &FlagOverrides::default()).is_ok());
    }

    #[test]
    fn unknown_keys_and_unsupported_kinds_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.toml", "[server]\nlisen = \"x\"\n");
        let err = load_with_env(&[a], &[], &FlagOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        let env = vec![("PACKGATE__SERVER__NOPE".to_string(), "1".to_string())];
        let err = load_with_env(&[], &env, &FlagOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("PACKGATE__SERVER__NOPE"), "{err}");
        let p = write(
            dir.path(),
            "p.toml",
            "[[repository]]\nname = \"up\"\nformat = \"npm\"\ntype = \"group\"\n",
        );
        let err = load_with_env(&[p], &[], &FlagOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("a group needs `members`"), "{err}");
        let q = write(
            dir.path(),
            "q.toml",
            "[[repository]]\nname = \"up\"\nformat = \"npm\"\ntype = \"proxy\"\n",
        );
        let err = load_with_env(&[q], &[], &FlagOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs `upstream`"), "{err}");
    }

    #[test]
    fn group_members_rules_and_publish_to_are_checked_naming_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let base = "[[repository]]\nname = \"npm-in\"\nformat = \"npm\"\n\n[[repository]]\nname = \"npm-up\"\nformat = \"npm\"\ntype = \"proxy\"\nupstream = \"http://127.0.0.1:9/\"\n\n[[repository]]\nname = \"crates\"\nformat = \"cargo\"\n\n";
        let cases = [
            (
                "members = [\"npm-in\", \"nope\"]",
                "member \"nope\" is not a declared repository",
            ),
            (
                "members = [\"npm-in\", \"crates\"]",
                "member \"crates\" is a cargo repository",
            ),
            ("members = [\"npm-in\", \"npm-in\"]", "listed twice"),
            ("members = [\"all\"]", "cannot be its own member"),
            (
                "members = [\"npm-in\", \"npm-up\"]\npublish_to = \"npm-up\"",
                "not a hosted repository",
            ),
            (
                "members = [\"npm-in\"]\npublish_to = \"crates\"",
                "not a member",
            ),
            (
                "members = [\"npm-in\"]\nupstream = \"http://127.0.0.1:9/\"",
                "upstream",
            ),
            (
                "members = [\"npm-in\"]\n[[repository.route]]\nnames = [\"a\"]\nonly = [\"npm-up\"]",
                "not a member",
            ),
            (
                "members = [\"npm-in\"]\n[[repository.route]]\nnames = [\"a\"]",
                "needs `only` or `exclude`",
            ),
            (
                "members = [{ name = \"npm-in\", on_not_found = \"sometimes\" }]",
                "npm-in",
            ),
        ];
        for (n, (keys, want)) in cases.iter().enumerate() {
            let f = write(
                dir.path(),
                &format!("g{n}.toml"),
                &format!(
                    "{base}[[repository]]\nname = \"all\"\nformat = \"npm\"\ntype = \"group\"\n{keys}\n"
                ),
            );
            let err = load_with_env(&[f], &[], &FlagOverrides::default())
                .map(|_| "loaded".to_string())
                .unwrap_or_else(|e| format!("{e:#}"));
            assert!(err.contains(want), "{keys}: {err}");
        }
        let ok = write(
            dir.path(),
            "ok.toml",
            &format!(
                "{base}[[repository]]\nname = \"all\"\nformat = \"npm\"\ntype = \"group\"\nmembers = [\"npm-in\", {{ name = \"npm-up\", on_not_found = \"stop\", timeout = \"5s\", retries = 1 }}]\npublish_to = \"npm-in\"\nallow_upstream = [\"shared-*\"]\n[[repository.route]]\nnames = [\"@acme/*\"]\nonly = [\"npm-in\"]\n"
            ),
        );
        let config = load_with_env(&[ok], &[], &FlagOverrides::default()).unwrap();
        let all = &config.repository;
        let group = all.iter().find(|r| r.name == "all").unwrap();
        let s = group.group_settings(all).unwrap();
        assert_eq!(s.publish_to, Some(0));
        assert_eq!(s.members[1].retries, 1);
        assert_eq!(s.rules[0].only, Some(vec![0]));
        let hosted = all.iter().find(|r| r.name == "npm-in").unwrap();
        assert!(hosted.refuse_group_keys().is_ok());
    }

    #[test]
    fn shipped_example_configurations_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        for name in ["packgate.toml", "example.toml"] {
            let f = root.join(name);
            let c = load_with_env(&[f], &[], &FlagOverrides::default());
            assert!(c.is_ok(), "{name}: {:?}", c.err());
        }
    }
}
