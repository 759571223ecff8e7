//! The real npm client through a proxy repository: `npm install` of a tree with scoped packages
//! from an empty proxy cache, `npm ci`, and `npm ci` again from an empty npm cache after the
//! upstream is gone (served from packgate's cache alone).

use super::publish;
use crate::require_npm;
use crate::support::Npm;
use crate::support::proxy::ProxyRig;
use packgate_npm::testing::Package;

#[test]
fn npm_installs_a_scoped_tree_through_the_proxy_and_again_after_the_upstream_is_gone() {
    require_npm!();
    let rig = ProxyRig::start("npm", "npm", "metadata_ttl = \"1s\"");
    publish(
        &rig,
        &Package::new("@acme/base", "1.0.0").file("index.js", "module.exports = 'base';\n"),
    );
    publish(
        &rig,
        &Package::new("@acme/base", "1.2.0").file("index.js", "module.exports = 'base 1.2';\n"),
    );
    publish(
        &rig,
        &Package::new("middle", "2.1.0")
            .dependency("@acme/base", "^1.0.0")
            .file(
                "index.js",
                "module.exports = require('@acme/base') + ' via middle';\n",
            ),
    );
    publish(
        &rig,
        &Package::new("top-app-lib", "0.3.0")
            .dependency("middle", "^2.0.0")
            .dependency("@acme/base", "~1.2.0"),
    );

    let npm = Npm::new(&rig.proxy, &rig.repo, None);
    let dir = npm.new_dir("app");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true,"dependencies":{"top-app-lib":"^0.3.0"}}"#,
    )
    .expect("package.json");
    npm.run(&dir, &["install", "--no-audit"]).ok();
    let lock = std::fs::read_to_string(dir.join("package-lock.json")).expect("lockfile");
    assert!(
        lock.contains(
            &rig.proxy
                .url(&format!("/{}/@acme/base/-/base-1.2.0.tgz", rig.repo))
        ),
        "the lockfile resolves through the proxy:\n{lock}"
    );
    for host in rig.upstream_hosts() {
        assert!(
            !lock.contains(&host),
            "the lockfile names the upstream {host}"
        );
    }
    let out = npm
        .node(&dir, &["-e", "console.log(require('middle'))"])
        .ok();
    assert!(
        out.stdout.contains("base 1.2 via middle"),
        "{}",
        out.describe()
    );

    std::fs::remove_dir_all(dir.join("node_modules")).expect("rm node_modules");
    npm.run(&dir, &["ci", "--no-audit"]).ok();

    // The upstream goes away; a new machine (empty npm cache) installs from the lockfile.
    rig.fault.down();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let fresh = Npm::new(&rig.proxy, &rig.repo, None);
    let again = fresh.new_dir("again");
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(f), again.join(f)).expect("copy");
    }
    fresh.run(&again, &["ci", "--no-audit"]).ok();
    let out = fresh
        .node(&again, &["-e", "console.log(require('middle'))"])
        .ok();
    assert!(
        out.stdout.contains("base 1.2 via middle"),
        "{}",
        out.describe()
    );
    // And `npm install` of a cached range still resolves from the stale packuments.
    let third = fresh.new_dir("third");
    std::fs::write(
        third.join("package.json"),
        r#"{"name":"third","version":"1.0.0","private":true,"dependencies":{"middle":"^2.0.0"}}"#,
    )
    .expect("package.json");
    fresh.run(&third, &["install", "--no-audit"]).ok();
}
