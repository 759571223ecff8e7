//! The real clients through a RubyGems group: `gem push` to the group, `bundle install` of gems
//! from both members, then a new version and `bundle update` over Bundler's ranged `versions`
//! request (answered 206 from the group's append-only log), `gem install` and `gem search`.

use super::{GROUP, get, internal, rig, upstream};
use crate::support::gem_client::{GemEnv, GemProject, served_versions_206};
use crate::support::tool::ToolOut;
use packgate_rubygems::testing::Gem;
use std::path::Path;

/// `gg_public` VERSION (upstream) whose `GgPublic.value` is `value`.
fn gg_public(version: &str, value: u32) -> Gem {
    Gem::new("gg_public", version).file(
        "lib/gg_public.rb",
        format!("module GgPublic\n  def self.value\n    {value}\n  end\nend\n"),
    )
}

/// `gg_shared` VERSION whose `GgShared.value` is `value` (both members have it).
fn gg_shared(version: &str, value: u32) -> Gem {
    Gem::new("gg_shared", version).file(
        "lib/gg_shared.rb",
        format!("module GgShared\n  def self.value\n    {value}\n  end\nend\n"),
    )
}

/// The internal gem, built and pushed with the real client: `GgPublic.value * 10 +
/// GgShared.value + bump`.
fn gg_internal(version: &str, bump: u32) -> GemProject {
    GemProject::new(
        "gg_internal",
        version,
        &format!(
            "require \"gg_public\"\nrequire \"gg_shared\"\n\nmodule GgInternal\n  def self.value\n    GgPublic.value * 10 + GgShared.value + {bump}\n  end\nend\n"
        ),
    )
    .dep("gg_public", &["~> 1.0"])
    .dep("gg_shared", &[">= 1.1"])
}

/// `bundle ARGS` that must succeed over the compact index, without checksum complaints.
fn bundle_ok(gems: &GemEnv, dir: &Path, args: &[&str]) -> ToolOut {
    gems.bundle(dir, args)
        .ok()
        .never_mentions("Fetching source index")
        .never_mentions("does not match the checksum")
}

/// `name (version)` lines of a Gemfile.lock's `specs:` section.
fn locked(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("Gemfile.lock")).expect("Gemfile.lock written");
    text.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("      "))
        .map(|l| l.trim().to_owned())
        .collect()
}

const RUN: [&str; 4] = [
    "exec",
    "ruby",
    "-e",
    "require \"gg_internal\"; puts GgInternal.value",
];

#[test]
fn gem_push_bundle_install_and_gem_install_work_through_the_group() {
    crate::require_bundler!();
    let (rig, token) = rig("publish_to = \"rubygems\"\nallow_upstream = [\"gg_shared\"]");
    upstream(&rig, &gg_public("1.0.0", 3));
    // gg_shared: 1.0.0 in both members (the hosted one wins), 1.1.0 only upstream.
    internal(&rig, &token, &gg_shared("1.0.0", 100));
    upstream(&rig, &gg_shared("1.0.0", 200));
    upstream(&rig, &gg_shared("1.1.0", 5));

    // `gem push` to the group lands in publish_to.
    let pusher = GemEnv::new(&rig.proxy, GROUP, Some(&token));
    let file = pusher.build(&gg_internal("1.0.0", 1));
    pusher
        .push(&file)
        .ok()
        .mentions_any(&["Successfully registered gem: gg_internal (1.0.0)"]);
    get(&rig, "rubygems", "info/gg_internal").expect(200);

    // `bundle install` needs gems from both members.
    let gems = GemEnv::new(&rig.proxy, GROUP, None);
    let app = gems.bundle_project("app", "gem \"gg_internal\"\n");
    let out = bundle_ok(&gems, &app, &["install"]);
    assert!(
        out.all().contains("Fetching gem metadata"),
        "bundler uses the compact index: {}",
        out.describe()
    );
    for want in [
        "gg_internal (1.0.0)",
        "gg_public (1.0.0)",
        "gg_shared (1.1.0)",
    ] {
        assert!(
            locked(&app).contains(&want.to_owned()),
            "{want}: {:?}",
            locked(&app)
        );
    }
    let lock = std::fs::read_to_string(app.join("Gemfile.lock")).expect("lock");
    assert!(lock.contains(&format!("remote: {}", gems.source)), "{lock}");
    for host in rig.upstream_hosts() {
        assert!(
            !lock.contains(&host),
            "the lockfile names the upstream {host}"
        );
    }
    assert_eq!(bundle_ok(&gems, &app, &RUN).stdout.trim(), "36");

    // A new version published to the hosted member itself: bundle update sees it through the
    // group over its ranged versions request (a 206 of the lines the group's log appended)
    // without checksum errors.
    let member = GemEnv::new(&rig.proxy, "rubygems", Some(&token));
    let file = member.build(&gg_internal("1.1.0", 2));
    member.push(&file).ok();
    bundle_ok(&gems, &app, &["update", "gg_internal"]);
    assert!(
        locked(&app).contains(&"gg_internal (1.1.0)".to_owned()),
        "bundle update: {:?}",
        locked(&app)
    );
    assert_eq!(bundle_ok(&gems, &app, &RUN).stdout.trim(), "37");
    assert!(
        served_versions_206(&rig.proxy, GROUP),
        "Bundler's ranged versions request got a 206 from the group's log"
    );

    // `gem install` through the group (info, quick specs, gems) and `gem search` (legacy
    // specs index).
    let user = GemEnv::new(&rig.proxy, GROUP, None);
    user.install(&["gg_internal"]).ok();
    let value = user
        .ruby(&["-e", "require \"gg_internal\"; puts GgInternal.value"])
        .ok()
        .stdout
        .trim()
        .to_owned();
    assert_eq!(value, "37");
    // The hosted gg_shared 1.0.0 (value 100) is the one the group serves.
    user.install(&["gg_shared", "-v", "1.0.0"]).ok();
    let shared = user
        .ruby(&[
            "-e",
            "gem \"gg_shared\", \"1.0.0\"; require \"gg_shared\"; puts GgShared.value",
        ])
        .ok()
        .stdout
        .trim()
        .to_owned();
    assert_eq!(shared, "100");
    let search = user
        .gem(&[
            "search",
            "gg_",
            "--remote",
            "--clear-sources",
            "--source",
            &user.source,
        ])
        .ok();
    for name in [
        "gg_internal (1.1.0)",
        "gg_public (1.0.0)",
        "gg_shared (1.1.0)",
    ] {
        assert!(
            search.stdout.contains(name),
            "{name}: {}",
            search.describe()
        );
    }
}
