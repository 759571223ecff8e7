//! The version manifest packgate stores for a hosted publish.
//!
//! Builds the per-version object that later appears under `versions[v]` of the packument
//! (npm protocol reference §3.2 "Full document" and §3.3 for `hasInstallScript` and
//! `_hasShrinkwrap`). Registry-computed `dist` fields (`tarball`, `shasum`, `integrity`) are
//! added at render time by the packument module. See `docs/formats/npm.md`.

use serde_json::{Map, Value, json};

use crate::{PublishRequest, TarballInfo};

/// Scripts that make npm run something at install time.
const INSTALL_SCRIPTS: [&str; 3] = ["preinstall", "install", "postinstall"];

/// The version manifest packgate stores: the sent manifest, minus "dist" and "_attachments"
/// ("readme" kept), with "_id" = "{name}@{version}", "_npmUser" = {"name": user, "email":
/// email-or-omitted}, "maintainers" = [{"name": user, "email"}] if absent, "_hasShrinkwrap",
/// "hasInstallScript": true only when scripts has preinstall/install/postinstall or
/// (binding.gyp and gypfile != false) (omitted otherwise), and "dist": {"fileCount": n,
/// "unpackedSize": n}.
pub fn stored_manifest(
    req: &PublishRequest,
    info: &TarballInfo,
    user: &str,
    email: Option<&str>,
) -> Map<String, Value> {
    let mut m = req.manifest.clone();
    m.remove("dist");
    m.remove("_attachments");
    m.insert("_id".into(), format!("{}@{}", req.name, req.version).into());

    let mut npm_user = Map::new();
    npm_user.insert("name".into(), user.into());
    if let Some(email) = email {
        npm_user.insert("email".into(), email.into());
    }
    let npm_user = Value::Object(npm_user);
    if !m.get("maintainers").is_some_and(Value::is_array) {
        m.insert("maintainers".into(), Value::Array(vec![npm_user.clone()]));
    }
    m.insert("_npmUser".into(), npm_user);
    m.insert("_hasShrinkwrap".into(), info.has_shrinkwrap.into());

    m.remove("hasInstallScript");
    if has_install_script(&m, info.has_binding_gyp) {
        m.insert("hasInstallScript".into(), true.into());
    }
    m.insert(
        "dist".into(),
        json!({ "fileCount": info.file_count, "unpackedSize": info.unpacked_size }),
    );
    m
}

/// npm runs something at install time: an install-phase script, or `node-gyp rebuild` for a
/// `binding.gyp` unless `"gypfile": false`.
fn has_install_script(manifest: &Map<String, Value>, has_binding_gyp: bool) -> bool {
    let scripts = manifest.get("scripts").and_then(Value::as_object);
    let scripted = scripts.is_some_and(|s| INSTALL_SCRIPTS.iter().any(|k| s.contains_key(*k)));
    let gyp = has_binding_gyp && manifest.get("gypfile") != Some(&Value::Bool(false));
    scripted || gyp
}
