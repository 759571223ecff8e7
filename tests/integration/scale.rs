//! Two instances of one deployment (same PostgreSQL database, same blob storage). Runs only when
//! `PACKGATE_TEST_DATABASE_URL` is set: SQLite is single-instance.

use crate::support::TestServer;
use packgate_npm::testing::{Package, integrity, sha1_hex};
use serde_json::{Value, json};
use std::sync::Barrier;

fn shared_database_configured() -> bool {
    let set = std::env::var("PACKGATE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    if !set {
        println!("SKIP: PACKGATE_TEST_DATABASE_URL not set (two instances need PostgreSQL)");
    }
    set
}

#[test]
fn second_instance_serves_what_the_first_published() {
    if !shared_database_configured() {
        return;
    }
    let first = TestServer::start();
    let second = first.start_second();
    let token = first.publisher("alice");
    let pkg = Package::new("@two/shared", "1.0.0");
    let body = pkg.publish_body(&first.registry("npm"), "latest");
    first
        .http()
        .json("PUT", "/npm/@two%2fshared", Some(&token), &body)
        .expect_success();
    let doc = second.http().get("/npm/@two%2fshared").expect(200).json();
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["shasum"],
        json!(sha1_hex(&pkg.tarball()))
    );
    assert_eq!(
        second
            .http()
            .get("/npm/@two/shared/-/shared-1.0.0.tgz")
            .expect(200)
            .body,
        pkg.tarball()
    );
    // A token created through the CLI works on both instances.
    second
        .http()
        .get_auth("/npm/-/whoami", Some(&token))
        .expect(200);
}

#[test]
fn concurrent_publishes_of_one_version_on_two_instances_admit_exactly_one() {
    if !shared_database_configured() {
        return;
    }
    let first = TestServer::start();
    let second = first.start_second();
    let token = first.publisher("alice");
    let servers = [&first, &second];
    let mut winners = Vec::new();
    for round in 0..50 {
        let version = format!("1.0.{round}");
        let candidates: Vec<(Vec<u8>, Value)> = (0..2)
            .map(|i| {
                let pkg = Package::new("contended", &version).file(
                    "index.js",
                    format!("module.exports = 'instance {i}, round {round}';\n"),
                );
                (
                    pkg.tarball(),
                    pkg.publish_body(&servers[i].registry("npm"), "latest"),
                )
            })
            .collect();
        let barrier = Barrier::new(2);
        let results: Vec<crate::support::Resp> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (barrier, server, body, token) =
                        (&barrier, servers[i], &candidates[i].1, &token);
                    s.spawn(move || {
                        barrier.wait();
                        server
                            .http()
                            .json("PUT", "/npm/contended", Some(token), body)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("publisher thread"))
                .collect()
        });
        let ok: Vec<usize> = (0..2)
            .filter(|&i| (200..300).contains(&results[i].status))
            .collect();
        assert_eq!(
            ok.len(),
            1,
            "round {round}: exactly one publish must succeed, got {} and {} ({} / {})",
            results[0].status,
            results[1].status,
            results[0].text(),
            results[1].text()
        );
        let loser = &results[1 - ok[0]];
        let error = loser.expect_error(403);
        assert!(
            error.contains("previously published"),
            "round {round}: loser error {error:?}"
        );
        winners.push((version, candidates[ok[0]].0.clone()));
    }

    // Each instance builds tarball URLs from the Host it was asked on: compare them as paths.
    let docs: Vec<Value> = servers
        .iter()
        .map(|s| {
            let mut doc = s.http().get("/npm/contended").expect(200).json();
            for v in doc["versions"]
                .as_object_mut()
                .expect("versions")
                .values_mut()
            {
                let url = v["dist"]["tarball"].as_str().expect("dist.tarball");
                let path = url.strip_prefix(&s.base).unwrap_or(url).to_owned();
                v["dist"]["tarball"] = json!(path);
            }
            doc
        })
        .collect();
    let keys = |d: &Value| {
        d["versions"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(
        keys(&docs[0]),
        keys(&docs[1]),
        "both instances serve the same versions"
    );
    for (version, v) in docs[0]["versions"].as_object().expect("versions") {
        assert_eq!(
            v, &docs[1]["versions"][version],
            "{version}: both instances serve the same document"
        );
    }
    assert_eq!(docs[0]["dist-tags"], docs[1]["dist-tags"]);
    assert_eq!(docs[0]["dist-tags"]["latest"], json!("1.0.49"));
    assert_eq!(docs[0]["versions"].as_object().map(|m| m.len()), Some(50));
    for (version, tgz) in &winners {
        for (i, doc) in docs.iter().enumerate() {
            let dist = &doc["versions"][version]["dist"];
            assert_eq!(
                dist["shasum"],
                json!(sha1_hex(tgz)),
                "instance {i}, {version}: shasum is the winner's"
            );
            assert_eq!(
                dist["integrity"],
                json!(integrity(tgz)),
                "instance {i}, {version}: integrity is the winner's"
            );
        }
        for server in servers {
            let served = server
                .http()
                .get(&format!("/npm/contended/-/contended-{version}.tgz"));
            assert_eq!(
                &served.expect(200).body,
                tgz,
                "{version}: served bytes are the winner's"
            );
        }
    }
}

#[test]
fn two_proxy_instances_filling_one_cache_at_once_store_each_file_once_and_both_serve_it() {
    if !shared_database_configured() {
        return;
    }
    let rig = crate::support::proxy::ProxyRig::start("npm", "npm", "");
    let second = rig.proxy.start_second();
    let pkg = Package::new("shared-cache", "1.0.0")
        .file("data.bin", crate::support::random_bytes(200_000, 3));
    crate::npm_proxy::publish(&rig, &pkg);
    let blobs_before = rig.proxy.blob_count();
    rig.fault.set(
        "/npm/shared-cache/-/",
        crate::support::fault_proxy::Fault::Delay(std::time::Duration::from_millis(300)),
    );
    let path = format!("/{}/shared-cache/-/shared-cache-1.0.0.tgz", rig.repo);
    let bodies: Vec<crate::support::Resp> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let server = if i % 2 == 0 { &rig.proxy } else { &second };
                let path = path.clone();
                s.spawn(move || server.http().get(&path))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for r in &bodies {
        r.expect(200);
        assert_eq!(r.body, pkg.tarball());
    }
    let fetched = rig
        .fault
        .count("/npm/shared-cache/-/shared-cache-1.0.0.tgz");
    assert!(
        (1..=2).contains(&fetched),
        "one fetch per instance at most, got {fetched}"
    );
    crate::support::proxy::settle(&rig.proxy, &rig.repo);
    crate::support::proxy::settle(&second, &rig.repo);
    if let (Some(before), Some(after)) = (blobs_before, rig.proxy.blob_count()) {
        assert_eq!(after, before + 1, "the tarball is stored once");
    }
    // Both serve it from the shared cache now, without the upstream.
    rig.fault.down();
    for server in [&rig.proxy, &second] {
        let r = server.http().get(&path);
        r.expect(200);
        assert_eq!(r.header("x-packgate-cache"), Some("hit"));
    }
}

#[test]
fn a_publish_on_one_instance_is_read_on_the_other_at_once_for_a_thousand_rounds() {
    // Each instance remembers package rows and rendered packuments; a change on one reaches the
    // other through PostgreSQL's LISTEN/NOTIFY before the publish's response: no round may read
    // the state from before it.
    if !shared_database_configured() {
        return;
    }
    let first = TestServer::start();
    let second = first.start_second();
    let token = first.publisher("alice");
    let servers = [&first, &second];
    let abbreviated = [("accept", "application/vnd.npm.install-v1+json")];
    for round in 0..1000 {
        let (writer, reader) = (servers[round % 2], servers[(round + 1) % 2]);
        // The reader has the package's packument (and rows) cached before the write...
        reader.http().get_with("/npm/ryw", &abbreviated);
        // ...and every tenth round it has just looked up a name that is not there yet.
        let fresh_name = (round % 10 == 0).then(|| format!("ryw-new-{round}"));
        if let Some(name) = &fresh_name {
            reader.http().get(&format!("/npm/{name}")).expect(404);
        }
        let version = format!("1.0.{round}");
        let pkg = Package::new("ryw", &version);
        writer
            .http()
            .json(
                "PUT",
                "/npm/ryw",
                Some(&token),
                &pkg.publish_body(&writer.registry("npm"), "latest"),
            )
            .expect_success();
        let doc = reader.http().get_with("/npm/ryw", &abbreviated);
        doc.expect(200);
        let doc = doc.json();
        assert!(
            doc["versions"].get(&version).is_some(),
            "round {round}: {version} published on one instance is not in the other's packument"
        );
        assert_eq!(doc["dist-tags"]["latest"], json!(version), "round {round}");
        if let Some(name) = fresh_name {
            let pkg = Package::new(&name, "1.0.0");
            writer
                .http()
                .json(
                    "PUT",
                    &format!("/npm/{name}"),
                    Some(&token),
                    &pkg.publish_body(&writer.registry("npm"), "latest"),
                )
                .expect_success();
            reader.http().get(&format!("/npm/{name}")).expect(200);
            reader
                .http()
                .get(&format!("/npm/{name}/-/{name}-1.0.0.tgz"))
                .expect(200);
        }
    }
}
