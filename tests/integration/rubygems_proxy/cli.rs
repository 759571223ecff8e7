//! The real Bundler and gem clients through a RubyGems proxy repository: `bundle install` of a
//! dependency chain from an empty proxy cache, `bundle update` that sees a version published
//! upstream after the TTL (over a ranged `versions` fetch, without checksum errors), `gem install`
//! through the proxy, then the upstream is stopped and both install again from empty client
//! caches, served from packgate's cache alone.

use super::push;
use crate::support::gem_client::{GemEnv, served_versions_206};
use crate::support::proxy::ProxyRig;
use crate::support::tool::ToolOut;
use packgate_rubygems::testing::Gem;
use std::path::Path;
use std::time::Duration;

/// `pgp_c` VERSION whose `PgpC.value` is `value`.
fn pgp_c(version: &str, value: u32) -> Gem {
    Gem::new("pgp_c", version).file(
        "lib/pgp_c.rb",
        format!("module PgpC\n  def self.value\n    {value}\n  end\nend\n"),
    )
}

/// `pgp_b` 1.0.0 (`PgpC.value * 10`), depending on `pgp_c >= 0.2, < 2`.
fn pgp_b() -> Gem {
    Gem::new("pgp_b", "1.0.0")
        .dep("pgp_c", &[">= 0.2", "< 2"])
        .file(
            "lib/pgp_b.rb",
            "require \"pgp_c\"\n\nmodule PgpB\n  def self.value\n    PgpC.value * 10\n  end\nend\n",
        )
}

/// `pgp_a` 1.0.0 (`PgpB.value + 1`), depending on `pgp_b ~> 1.0`.
fn pgp_a() -> Gem {
    Gem::new("pgp_a", "1.0.0").dep("pgp_b", &["~> 1.0"]).file(
        "lib/pgp_a.rb",
        "require \"pgp_b\"\n\nmodule PgpA\n  def self.value\n    PgpB.value + 1\n  end\nend\n",
    )
}

/// `bundle ARGS` that must succeed over the compact index, without checksum complaints.
fn bundle_ok(gems: &GemEnv, dir: &Path, args: &[&str]) -> ToolOut {
    gems.bundle(dir, args)
        .ok()
        .never_mentions("Fetching source index")
        .never_mentions("does not match the checksum")
}

const RUN: [&str; 4] = ["exec", "ruby", "-e", "require \"pgp_a\"; puts PgpA.value"];

/// `name (version)` lines of a Gemfile.lock's `specs:` section.
fn locked(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("Gemfile.lock")).expect("Gemfile.lock written");
    text.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("      "))
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn bundler_and_gem_install_through_the_proxy_see_new_versions_and_work_after_the_upstream_is_gone()
{
    crate::require_bundler!();
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"2s\"");
    push(&rig, &pgp_c("1.0.0", 3));
    push(&rig, &pgp_b());
    push(&rig, &pgp_a());

    let gems = GemEnv::new(&rig.proxy, &rig.repo, None);
    let app = gems.bundle_project("app", "gem \"pgp_a\"\n");
    let out = bundle_ok(&gems, &app, &["install"]);
    assert!(
        out.all().contains("Fetching gem metadata"),
        "bundler uses the compact index: {}",
        out.describe()
    );
    for want in ["pgp_a (1.0.0)", "pgp_b (1.0.0)", "pgp_c (1.0.0)"] {
        assert!(locked(&app).contains(&want.to_owned()), "{want}");
    }
    let lock = std::fs::read_to_string(app.join("Gemfile.lock")).expect("lock");
    assert!(lock.contains(&format!("remote: {}", gems.source)), "{lock}");
    for host in rig.upstream_hosts() {
        assert!(
            !lock.contains(&host),
            "the lockfile names the upstream {host}"
        );
    }
    assert_eq!(bundle_ok(&gems, &app, &RUN).stdout.trim(), "31");

    // A new pgp_c upstream; after the TTL, bundle update sees it (versions fetched with a Range,
    // answered 206 from the proxy's copy; info/pgp_c as new as that versions).
    push(&rig, &pgp_c("1.1.0", 4));
    std::thread::sleep(Duration::from_millis(2300));
    bundle_ok(&gems, &app, &["update", "pgp_c"]);
    assert!(
        locked(&app).contains(&"pgp_c (1.1.0)".to_owned()),
        "bundle update pgp_c: {:?}",
        locked(&app)
    );
    assert_eq!(bundle_ok(&gems, &app, &RUN).stdout.trim(), "41");
    assert!(
        served_versions_206(&rig.proxy, &rig.repo),
        "bundler's ranged versions request should have been answered 206\n{}",
        rig.proxy.stderr_tail(40)
    );

    // gem install through the proxy (info, quick specs, gems).
    let user = GemEnv::new(&rig.proxy, &rig.repo, None);
    user.install(&["pgp_a"]).ok();
    let value = |env: &GemEnv| {
        env.ruby(&["-e", "require \"pgp_a\"; puts PgpA.value"])
            .ok()
            .stdout
            .trim()
            .to_owned()
    };
    assert_eq!(value(&user), "41");
    let search = |env: &GemEnv| {
        let out = env
            .gem(&[
                "search",
                "pgp_",
                "--remote",
                "--clear-sources",
                "--source",
                &env.source,
            ])
            .ok();
        for name in ["pgp_a (1.0.0)", "pgp_b (1.0.0)", "pgp_c (1.1.0)"] {
            assert!(out.stdout.contains(name), "{name}: {}", out.describe());
        }
    };
    search(&user);

    // The upstream goes away; a new machine (empty client caches) installs from the lockfile,
    // and gem installs again, all from packgate's cache.
    rig.fault.down();
    std::thread::sleep(Duration::from_millis(2300));
    let fresh = GemEnv::new(&rig.proxy, &rig.repo, None);
    let again = fresh.new_dir("again");
    for f in ["Gemfile", "Gemfile.lock"] {
        std::fs::copy(app.join(f), again.join(f)).expect("copy");
    }
    bundle_ok(&fresh, &again, &["install"]);
    assert_eq!(bundle_ok(&fresh, &again, &RUN).stdout.trim(), "41");
    let offline_user = GemEnv::new(&rig.proxy, &rig.repo, None);
    offline_user.install(&["pgp_a"]).ok();
    assert_eq!(value(&offline_user), "41");
    search(&offline_user);
    // A Gemfile that names the upstream, sent to the proxy by Bundler's `mirror.` setting (the
    // upstream is down: only the proxy can answer).
    let mirrored = GemEnv::new(&rig.proxy, &rig.repo, None);
    let upstream_source = format!("{}/rubygems/", rig.fault.url());
    let dir = mirrored.new_dir("mirrored");
    std::fs::write(
        dir.join("Gemfile"),
        format!("source \"{upstream_source}\"\n\ngem \"pgp_a\"\n"),
    )
    .expect("Gemfile");
    let mirror_key = format!("mirror.{upstream_source}");
    mirrored
        .bundle(
            &dir,
            &["config", "set", "--global", &mirror_key, &mirrored.source],
        )
        .ok();
    bundle_ok(&mirrored, &dir, &["install"]);
    assert_eq!(bundle_ok(&mirrored, &dir, &RUN).stdout.trim(), "41");
}
