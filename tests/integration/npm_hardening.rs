//! npm endpoints an anonymous caller could use to exhaust the server: the audit endpoints (a gzip
//! bomb must be cut after a few MiB, never parsed into memory, and private repositories need
//! credentials) and search (a bounded number of terms, literal matching, overflow-safe paging,
//! and a catalog that is never stale after a publish).

use crate::support::http::raw_request;
use crate::support::{Resp, TestServer};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use packgate_npm::testing::{Package, escape_name, gzip};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BULK: &str = "/-/npm/v1/security/advisories/bulk";
const QUICK: &str = "/-/npm/v1/security/audits/quick";
const MIB: usize = 1024 * 1024;

/// A server plus the token of user `alice` (scopes read, publish, delete).
fn setup() -> (TestServer, String) {
    let server = TestServer::start();
    let token = server.publisher("alice");
    (server, token)
}

/// Publishes `pkg` (tag `latest`) to `repo` and requires success.
fn publish(server: &TestServer, repo: &str, token: &str, pkg: &Package) {
    let body = pkg.publish_body(&server.registry(repo), "latest");
    server
        .http()
        .json(
            "PUT",
            &format!("/{repo}/{}", escape_name(pkg.name())),
            Some(token),
            &body,
        )
        .expect_success();
}

/// Raw deflate of `input`, ending with `flush` (a full flush leaves the stream byte-aligned with
/// an empty dictionary, so the bytes can be repeated; `Finish` ends the stream).
fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let start = c.total_in();
    let mut out = Vec::new();
    loop {
        out.reserve(64 * 1024);
        let consumed = usize::try_from(c.total_in() - start).expect("size");
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate");
        let all_in = usize::try_from(c.total_in() - start).expect("size") == input.len();
        let done = match flush {
            FlushCompress::Finish => status == Status::StreamEnd,
            _ => all_in && out.len() < out.capacity(),
        };
        if done {
            return out;
        }
    }
}

/// A gzip body that decompresses to `{"a":[0,0,…,0]}` of about `mib` MiB: valid JSON, a few
/// hundred bytes per MiB. The repeated MiB is compressed once (after a full flush it depends on
/// nothing before it) and its CRC combined, so building it takes neither time nor memory.
fn json_bomb(mib: usize) -> Vec<u8> {
    let prefix = br#"{"a":["#;
    let block = "0,".repeat(MIB / 2).into_bytes();
    let suffix = b"0]}";
    let mut c = Compress::new(Compression::best(), false);
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    body.extend(deflate(&mut c, prefix, FlushCompress::Full));
    let block_deflated = deflate(&mut c, &block, FlushCompress::Full);
    let mut block_crc = Crc::new();
    block_crc.update(&block);
    let mut crc = Crc::new();
    crc.update(prefix);
    for _ in 0..mib {
        body.extend_from_slice(&block_deflated);
        crc.combine(&block_crc);
    }
    body.extend(deflate(&mut c, suffix, FlushCompress::Finish));
    let mut suffix_crc = Crc::new();
    suffix_crc.update(suffix);
    crc.combine(&suffix_crc);
    body.extend_from_slice(&crc.sum().to_le_bytes());
    body.extend_from_slice(&crc.amount().to_le_bytes());
    body
}

/// The peak resident set size of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// POSTs a gzip audit body (optionally with a bearer token), like npm does; returns
/// `{"status": …, "body": <JSON or null>}`.
fn post_gzip(server: &TestServer, path: &str, token: Option<&str>, body: Vec<u8>) -> Value {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let resp = server
        .http()
        .send("POST", path, &headers, Some(gzip(&body)));
    let body = serde_json::from_slice::<Value>(&resp.body).unwrap_or(Value::Null);
    json!({"status": resp.status, "body": body})
}

#[test]
fn the_bomb_builder_makes_valid_gzip_of_the_announced_size() {
    use std::io::Read;
    let bomb = json_bomb(3);
    assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bomb.as_slice())
        .read_to_end(&mut text)
        .expect("valid gzip with a correct trailer");
    assert_eq!(text.len(), 3 * MIB + 9);
    let doc: Value = serde_json::from_slice(&text).expect("valid JSON");
    assert_eq!(doc["a"].as_array().map(Vec::len), Some(3 * MIB / 2 + 1));
}

/// One gzip bomb to send: what it is, the endpoint, the body.
type Bomb<'a> = (String, &'static str, &'a [u8]);

/// `/healthz` checks made during an attack: status and time taken.
type Health = Vec<(u16, Duration)>;

/// Sends the bombs to the public repository (`parallel`: all at once, else one after the other)
/// while polling `/healthz` on fresh connections; returns the answers (what, response) and the
/// health checks (status, time taken).
fn attack(addr: &str, bombs: &[Bomb<'_>], parallel: bool) -> (Vec<(String, Resp)>, Health) {
    let send = |(what, endpoint, body): &Bomb<'_>| {
        let headers = [
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ];
        let path = format!("/npm{endpoint}");
        let resp = raw_request(addr, "POST", &path, &headers, body, None, || {});
        (what.clone(), resp)
    };
    let finished = AtomicUsize::new(0);
    let mut health = Vec::new();
    let answers = std::thread::scope(|s| {
        let workers: Vec<_> = if parallel {
            bombs
                .iter()
                .map(|b| {
                    s.spawn(|| {
                        let answer = send(b);
                        finished.fetch_add(1, Ordering::SeqCst);
                        vec![answer]
                    })
                })
                .collect()
        } else {
            vec![s.spawn(|| {
                let answers: Vec<_> = bombs.iter().map(send).collect();
                finished.store(bombs.len(), Ordering::SeqCst);
                answers
            })]
        };
        loop {
            let started = Instant::now();
            // A fresh connection each time: a pooled one may have been closed while idle.
            let resp = raw_request(addr, "GET", "/healthz", &[], &[], None, || {});
            health.push((resp.status, started.elapsed()));
            if finished.load(Ordering::SeqCst) == bombs.len() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("attack thread"))
            .collect()
    });
    (answers, health)
}

fn assert_healthy(health: &[(u16, Duration)], phase: &str) {
    let unhealthy: Vec<_> = health
        .iter()
        .filter(|(status, took)| *status != 200 || *took > Duration::from_secs(5))
        .collect();
    assert!(
        unhealthy.is_empty(),
        "/healthz during the {phase} attack (status, time): {unhealthy:?}"
    );
}

fn assert_names_the_limit(what: &str, resp: &Resp) {
    let text = resp.expect_error(413);
    assert!(
        text.contains("4194304"),
        "{what}: the 413 names the limit: {text}"
    );
}

#[test]
fn audit_gzip_bombs_are_refused_with_413_while_memory_stays_bounded_and_healthz_answers() {
    let server = TestServer::start();
    let addr = format!("127.0.0.1:{}", server.port);
    let pid = server.pid();
    let start = peak_rss_kib(pid);
    // 200 MiB is over any upload limit; 64 MiB is under the default `max_upload` (100 MiB), and
    // was parsed into a document before.
    let big = json_bomb(200);
    let mid = json_bomb(64);
    let mut bombs: Vec<Bomb<'_>> = Vec::new();
    for (mib, body) in [(200, &big), (64, &mid)] {
        for endpoint in [BULK, QUICK] {
            bombs.push((format!("{mib} MiB bomb to {endpoint}"), endpoint, body));
        }
    }
    let (answers, health) = attack(&addr, &bombs, false);
    let sequential_peak = peak_rss_kib(pid);
    println!(
        "audit bombs one at a time: server VmHWM {start} KiB at start, {sequential_peak} KiB after; {} /healthz checks",
        health.len()
    );
    for (what, resp) in &answers {
        assert_names_the_limit(what, resp);
    }
    assert_healthy(&health, "sequential");
    assert!(
        // 2 KiB of gzip at a time inflate to at most ~2 MiB: the peak stays near the idle size.
        sequential_peak < start + 48 * 1024,
        "server peak RSS reached {sequential_peak} KiB (was {start} KiB at start)"
    );

    // Many at once: they take turns, so memory does not grow with their number.
    let bombs: Vec<Bomb<'_>> = (0..8)
        .map(|i| {
            let endpoint = if i % 2 == 0 { BULK } else { QUICK };
            (
                format!("parallel bomb {i} to {endpoint}"),
                endpoint,
                &big[..],
            )
        })
        .collect();
    let (answers, health) = attack(&addr, &bombs, true);
    let parallel_peak = peak_rss_kib(pid);
    println!(
        "audit bombs 8 at once: server VmHWM {parallel_peak} KiB after; {} /healthz checks",
        health.len()
    );
    for (what, resp) in &answers {
        // Refused for its size, or (when the others kept it waiting too long) as busy.
        if resp.status == 408 {
            resp.expect_error(408);
        } else {
            assert_names_the_limit(what, resp);
        }
    }
    assert!(
        answers.iter().any(|(_, r)| r.status == 413),
        "at least one parallel bomb was read and refused for its size"
    );
    assert_healthy(&health, "parallel");
    assert!(
        parallel_peak < start + 96 * 1024,
        "server peak RSS reached {parallel_peak} KiB with 8 bombs at once (was {start} KiB at start)"
    );
    // The server still audits normally afterwards.
    let ok = post_gzip(&server, &format!("/npm{BULK}"), None, b"{}".to_vec());
    assert_eq!(ok, json!({"status": 200, "body": {}}));
}

#[test]
fn audit_of_a_private_repository_needs_a_valid_token() {
    let (server, token) = setup();
    server.add_user("mallory", None);
    let revoked = server.create_token("mallory", &[]);
    let listed = server.cli_ok(&["token", "list", "--user", "mallory"], None);
    let id = listed
        .lines()
        .next()
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("token list: {listed:?}"))
        .to_owned();
    server.cli_ok(&["token", "revoke", &id], None);
    let body = br#"{"left-pad":["1.3.0"]}"#.to_vec();
    for endpoint in [BULK, QUICK] {
        let path = format!("/npm-private{endpoint}");
        for (who, t) in [
            ("anonymous", None),
            ("an unknown token", Some("not-a-token")),
            ("a revoked token", Some(revoked.as_str())),
        ] {
            let resp = post_gzip(&server, &path, t, body.clone());
            assert_eq!(resp["status"], json!(401), "{who} on {path}: {resp}");
            assert!(
                resp["body"]["error"]
                    .as_str()
                    .is_some_and(|e| !e.is_empty()),
                "{who} on {path}: npm-shaped error: {resp}"
            );
        }
        let resp = post_gzip(&server, &path, Some(&token), body.clone());
        assert_eq!(resp["status"], json!(200), "alice on {path}: {resp}");
        // Public repository: anonymous is fine, a revoked token is not.
        let public = format!("/npm{endpoint}");
        let resp = post_gzip(&server, &public, None, body.clone());
        assert_eq!(resp["status"], json!(200), "anonymous on {public}: {resp}");
        let resp = post_gzip(&server, &public, Some(&revoked), body.clone());
        assert_eq!(resp["status"], json!(401), "revoked on {public}: {resp}");
    }
}

#[test]
fn normal_audit_bodies_still_get_their_answers_and_invalid_json_is_400() {
    let server = TestServer::start();
    let bulk = br#"{"left-pad":["1.3.0"],"@acme/widget":["1.1.0","2.0.0"]}"#.to_vec();
    let resp = post_gzip(&server, &format!("/npm{BULK}"), None, bulk);
    assert_eq!(resp, json!({"status": 200, "body": {}}));
    let tree = json!({"name": "app", "version": "1.0.0", "requires": {"left-pad": "^1.3.0"},
        "dependencies": {"left-pad": {"version": "1.3.0"}}});
    let resp = post_gzip(
        &server,
        &format!("/npm{QUICK}"),
        None,
        tree.to_string().into_bytes(),
    );
    assert_eq!(resp["status"], json!(200), "{resp}");
    assert_eq!(resp["body"]["advisories"], json!({}), "{resp}");
    assert_eq!(
        resp["body"]["metadata"]["vulnerabilities"]["critical"],
        json!(0),
        "{resp}"
    );
    // Just under the 4 MiB limit is still accepted.
    let mut big = br#"{"a":["#.to_vec();
    big.extend("0,".repeat((4 * MIB - 16) / 2).bytes());
    big.extend(b"0]}");
    let resp = post_gzip(&server, &format!("/npm{BULK}"), None, big);
    assert_eq!(resp, json!({"status": 200, "body": {}}));
    for bad in [&b"{not json"[..], b"", b"{} trailing", b"[1,2"] {
        for endpoint in [BULK, QUICK] {
            let resp = post_gzip(&server, &format!("/npm{endpoint}"), None, bad.to_vec());
            assert_eq!(resp["status"], json!(400), "{bad:?} to {endpoint}: {resp}");
            assert!(
                resp["body"]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not valid JSON")),
                "{bad:?} to {endpoint}: {resp}"
            );
        }
    }
}

fn search(server: &TestServer, query: &str) -> Value {
    server
        .http()
        .get(&format!("/npm/-/v1/search?{query}"))
        .expect(200)
        .json()
}

fn names(result: &Value) -> Vec<String> {
    result["objects"]
        .as_array()
        .unwrap_or_else(|| panic!("objects: {result}"))
        .iter()
        .map(|o| o["package"]["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn search_with_more_than_16_terms_is_refused_with_400() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("t15", "1.0.0"));
    let terms: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
    let resp = server
        .http()
        .get(&format!("/npm/-/v1/search?text={}", terms.join("+")));
    let text = resp.expect_error(400);
    assert!(text.contains("16"), "the message names the limit: {text}");
    // A thousand terms are refused the same way (no 500).
    let many: Vec<String> = (0..1000).map(|i| format!("x{i}")).collect();
    let resp = server
        .http()
        .get(&format!("/npm/-/v1/search?text={}", many.join("+")));
    resp.expect_error(400);
    // Sixteen are fine.
    let result = search(&server, &format!("text={}", terms[..16].join("+")));
    assert_eq!(names(&result), ["t15"]);
}

#[test]
fn search_terms_with_like_wildcards_match_literally() {
    let (server, token) = setup();
    for name in ["a_b", "axb", "ab"] {
        publish(&server, "npm", &token, &Package::new(name, "1.0.0"));
    }
    let nothing: Vec<String> = Vec::new();
    assert_eq!(names(&search(&server, "text=a_b")), ["a_b"]);
    assert_eq!(names(&search(&server, "text=_")), ["a_b"]);
    // `%` matches nothing (npm names cannot contain it), not everything.
    assert_eq!(names(&search(&server, "text=%25")), nothing);
    assert_eq!(names(&search(&server, "text=a%25b")), nothing);
    assert_eq!(names(&search(&server, "text=%5C")), nothing);
    assert_eq!(names(&search(&server, "text=a%5C_b")), nothing);
    // Terms match without case, as before.
    assert_eq!(names(&search(&server, "text=AXB")), ["axb"]);
}

#[test]
fn search_from_past_the_end_answers_an_empty_page() {
    let (server, token) = setup();
    for name in ["page-a", "page-b", "page-c"] {
        publish(&server, "npm", &token, &Package::new(name, "1.0.0"));
    }
    for from in [
        "18446744073709551615",
        "9223372036854775808",
        "3",
        "99999999999999999999",
    ] {
        let result = search(&server, &format!("text=page&from={from}&size=250"));
        let expected: &[&str] = if from == "99999999999999999999" {
            // Not a number npm sends: read as the default (0), like other unparsable values.
            &["page-a", "page-b", "page-c"]
        } else {
            &[]
        };
        assert_eq!(names(&result), expected, "from={from}: {result}");
        assert_eq!(result["total"], json!(3), "from={from}: {result}");
    }
    let result = search(&server, "text=page&from=1&size=1");
    assert_eq!(names(&result), ["page-b"]);
    assert_eq!(result["total"], json!(3));
    let result = search(&server, "text=page&from=2&size=18446744073709551615");
    assert_eq!(names(&result), ["page-c"]);
}

#[test]
fn a_publish_is_visible_to_the_very_next_search() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("fresh", "1.0.0"));
    let first = search(&server, "text=fresh");
    assert_eq!(names(&first), ["fresh"]);
    assert_eq!(first["objects"][0]["package"]["version"], json!("1.0.0"));

    publish(
        &server,
        "npm",
        &token,
        &Package::new("fresh", "1.1.0").set("keywords", json!(["Shiny"])),
    );
    let second = search(&server, "text=fresh");
    let p = &second["objects"][0]["package"];
    assert_eq!(p["version"], json!("1.1.0"), "{second}");
    assert_eq!(p["keywords"], json!(["Shiny"]), "{second}");
    assert_eq!(
        names(&search(&server, "text=keywords:shiny")),
        ["fresh"],
        "keywords match without case"
    );

    publish(
        &server,
        "npm",
        &token,
        &Package::new("@acme/fresher", "1.0.0"),
    );
    assert_eq!(
        names(&search(&server, "text=fresh")),
        ["@acme/fresher", "fresh"]
    );
    assert_eq!(
        names(&search(&server, "text=fresh+scope:acme")),
        ["@acme/fresher"]
    );
    // The private repository's packages never show in the public one's search.
    publish(
        &server,
        "npm-private",
        &token,
        &Package::new("fresh-secret", "1.0.0"),
    );
    assert_eq!(
        names(&search(&server, "text=fresh")),
        ["@acme/fresher", "fresh"]
    );
}

#[test]
fn a_search_flood_keeps_memory_bounded_and_healthz_answering() {
    let (server, token) = setup();
    for i in 0..20 {
        publish(
            &server,
            "npm",
            &token,
            &Package::new(&format!("flood-{i}"), "1.0.0"),
        );
    }
    let pid = server.pid();
    let start = peak_rss_kib(pid);
    let base = server.url("");
    let sixteen: Vec<String> = (0..16).map(|i| format!("flood-{i}")).collect();
    let many: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
    let queries = [sixteen.join("+"), many.join("+"), "%25_%5C".to_owned()];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health = {
        let stop = stop.clone();
        let url = format!("{base}/healthz");
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let status = ureq::get(&url)
                    .call()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                answers.push((status, t.elapsed()));
                std::thread::sleep(Duration::from_millis(50));
            }
            answers
        })
    };
    let workers: Vec<_> = (0..32)
        .map(|w| {
            let url = format!("{base}/npm/-/v1/search?size=250&text={}", queries[w % 3]);
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..20 {
                    let status = match ureq::get(&url).call() {
                        Ok(r) => r.status().as_u16(),
                        Err(ureq::Error::StatusCode(s)) => s,
                        Err(_) => 0,
                    };
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<u16> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let health = health.join().expect("health thread");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "every search answers 200 (or 400 for 1,000 terms): {statuses:?}"
    );
    assert!(statuses.contains(&400) && statuses.contains(&200));
    assert_healthy(&health, "search flood");
    let peak = peak_rss_kib(pid);
    assert!(
        peak < start + 64 * 1024,
        "640 searches grew the peak RSS from {start} KiB to {peak} KiB"
    );
}
