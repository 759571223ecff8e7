//! The real cargo client through a proxy repository: `cargo build` of a project whose dependency
//! depends on another crate of the upstream, with the proxy as the named registry `packgate`
//! (`sparse+{base}/cargo-proxy/index/`); then the upstream is stopped and two new machines (empty
//! CARGO_HOME) build again from packgate's cache alone: one from the lockfile with `--locked`,
//! one resolving afresh with the proxy as source replacement of the default registry.

use super::{publish, rig};
use crate::support::cargo_client::Cargo;
use crate::support::tool::ToolOut;
use packgate_cargo::testing::{Crate, Dep, sha256_hex};
use std::path::Path;

/// `Cargo.toml` of a binary `app` depending on `deps` (a `[dependencies]` body).
fn app_manifest(deps: &str) -> String {
    format!(
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{deps}"
    )
}

const MAIN_RS: &str = "fn main() {\n    println!(\"{}\", pgp_mid::doubled());\n}\n";

/// `cargo build` (with `extra` flags) then the built binary's output.
fn build_and_run(cargo: &Cargo, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    cargo.run(dir, &args).ok();
    let mut args = vec!["run", "-q"];
    args.extend_from_slice(extra);
    let out: ToolOut = cargo.run(dir, &args).ok();
    out.stdout.trim().to_string()
}

#[test]
fn cargo_builds_through_the_proxy_and_again_from_its_cache_after_the_upstream_is_gone() {
    crate::require_cargo!();
    let rig = rig("metadata_ttl = \"1s\"");
    publish(
        &rig,
        &Crate::new("pgp-base", "0.1.0").file("src/lib.rs", "pub fn value() -> u64 {\n    7\n}\n"),
    );
    let base = publish(
        &rig,
        &Crate::new("pgp-base", "0.1.1").file("src/lib.rs", "pub fn value() -> u64 {\n    11\n}\n"),
    );
    let mid = publish(
        &rig,
        &Crate::new("pgp-mid", "0.2.0")
            .dep(Dep::new("pgp-base", "^0.1"))
            .file(
                "src/lib.rs",
                "pub fn doubled() -> u64 {\n    pgp_base::value() * 2\n}\n",
            ),
    );

    let cargo = Cargo::new(&rig.proxy, &rig.repo, None);
    let manifest = app_manifest("pgp-mid = { version = \"0.2\", registry = \"packgate\" }\n");
    let project = cargo.project(
        "app",
        &[
            ("Cargo.toml", manifest.clone()),
            ("src/main.rs", MAIN_RS.to_string()),
        ],
    );
    assert_eq!(build_and_run(&cargo, &project, &[]), "22");
    let lock = std::fs::read_to_string(project.join("Cargo.lock")).expect("Cargo.lock");
    let source = format!("sparse+{}/{}/index/", rig.proxy.base, rig.repo);
    assert!(lock.contains(&source), "locked through the proxy:\n{lock}");
    for (name, file) in [("pgp-base", &base), ("pgp-mid", &mid)] {
        assert!(
            lock.contains(&sha256_hex(file)),
            "Cargo.lock carries the cksum of {name}:\n{lock}"
        );
    }
    for host in rig.upstream_hosts() {
        assert!(
            !lock.contains(&host),
            "Cargo.lock names the upstream {host}"
        );
    }
    assert_eq!(
        rig.fault
            .count("/cargo/api/v1/crates/pgp-base/0.1.1/download"),
        1
    );

    // The upstream goes away; new machines (empty CARGO_HOME) build from packgate's cache.
    rig.fault.down();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let locked = Cargo::new(&rig.proxy, &rig.repo, None);
    let again = locked.project(
        "again",
        &[
            ("Cargo.toml", manifest),
            ("src/main.rs", MAIN_RS.to_string()),
            ("Cargo.lock", lock),
        ],
    );
    assert_eq!(build_and_run(&locked, &again, &["--locked"]), "22");

    let mirror = Cargo::new(&rig.proxy, &rig.repo, None).with_config(&format!(
        "[source.crates-io]\nreplace-with = \"pgproxy\"\n\n[source.pgproxy]\nregistry = \"{source}\"\n"
    ));
    let replaced = mirror.project(
        "replaced",
        &[
            ("Cargo.toml", app_manifest("pgp-mid = \"0.2\"\n")),
            ("src/main.rs", MAIN_RS.to_string()),
        ],
    );
    assert_eq!(build_and_run(&mirror, &replaced, &[]), "22");
}
