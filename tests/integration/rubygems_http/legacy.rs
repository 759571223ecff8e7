//! The legacy Marshal documents: `specs.4.8.gz`, `latest_specs.4.8.gz`,
//! `prerelease_specs.4.8.gz` and the quick specs (read back with Ruby when it is installed).

use super::{PLATFORM, get, push_ok, setup, yank};
use crate::support::TestServer;
use crate::support::gem_client::GemEnv;
use packgate_rubygems::testing::{Gem, gunzip, inflate_zlib};

/// Loads the legacy Marshal documents with Ruby and prints one `name version platform` per tuple;
/// `None` when ruby is not installed.
fn ruby_specs(server: &TestServer, file: &str) -> Option<Vec<String>> {
    if !GemEnv::installed() {
        return None;
    }
    let gems = GemEnv::new(server, "rubygems", None);
    let dir = gems.new_dir("specs");
    let path = dir.join(file);
    let body = get(server, &format!("/rubygems/{file}"))
        .expect(200)
        .body
        .clone();
    std::fs::write(&path, body).expect("write specs");
    let script = "require 'rubygems'; require 'zlib'; \
                  Marshal.load(Zlib.gunzip(File.binread(ARGV[0]))).each { |n, v, p| \
                  puts [n, v.to_s, p].join(' ') }";
    let out = gems
        .run(
            "ruby",
            &dir,
            &["-e", script, &path.display().to_string()],
            None,
        )
        .ok();
    let mut lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    lines.sort();
    Some(lines)
}

fn sorted(lines: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn legacy_specs_files_and_quick_specs() {
    let (server, token) = setup();
    let gems = [
        Gem::new("pg_legacy", "1.0.0"),
        Gem::new("pg_legacy", "1.1.0").dep("pg_dep", &["~> 1.0"]),
        Gem::new("pg_legacy", "1.1.0").platform(PLATFORM),
        Gem::new("pg_legacy", "2.0.0.pre"),
    ];
    for g in &gems {
        push_ok(&server, "rubygems", &token, g);
    }
    for file in ["specs", "latest_specs", "prerelease_specs"] {
        let resp = get(&server, &format!("/rubygems/{file}.4.8.gz"));
        let marshal = gunzip(&resp.expect(200).body);
        assert_eq!(&marshal[..2], [4, 8], "{file}: Marshal 4.8 stream");
        assert_eq!(marshal[2], b'[', "{file}: an Array");
    }
    for g in &gems {
        let resp = get(
            &server,
            &format!("/rubygems/quick/Marshal.4.8/{}.gemspec.rz", g.spec_stem()),
        );
        let marshal = inflate_zlib(&resp.expect(200).body);
        assert_eq!(
            &marshal[..3],
            [4, 8, b'u'],
            "quick spec of {}: `_dump` object",
            g.spec_stem()
        );
        let text = String::from_utf8_lossy(&marshal);
        assert!(
            text.contains("Gem::Specification"),
            "quick spec names Gem::Specification"
        );
        assert!(
            text.contains(&g.name) && text.contains(&g.version),
            "quick spec names the gem"
        );
    }

    let Some(specs) = ruby_specs(&server, "specs.4.8.gz") else {
        println!("NOTE: ruby not installed; Marshal contents not loaded");
        return;
    };
    assert_eq!(
        specs,
        sorted(&[
            "pg_legacy 1.0.0 ruby",
            "pg_legacy 1.1.0 ruby",
            "pg_legacy 1.1.0 x86_64-linux"
        ])
    );
    assert_eq!(
        ruby_specs(&server, "latest_specs.4.8.gz").expect("ruby"),
        sorted(&["pg_legacy 1.1.0 ruby", "pg_legacy 1.1.0 x86_64-linux"])
    );
    assert_eq!(
        ruby_specs(&server, "prerelease_specs.4.8.gz").expect("ruby"),
        sorted(&["pg_legacy 2.0.0.pre ruby"])
    );

    // The quick spec loads as a Gem::Specification with its runtime dependency.
    let env = GemEnv::new(&server, "rubygems", None);
    let dir = env.new_dir("quick");
    let path = dir.join("q.rz");
    let body = get(
        &server,
        "/rubygems/quick/Marshal.4.8/pg_legacy-1.1.0.gemspec.rz",
    )
    .expect(200)
    .body
    .clone();
    std::fs::write(&path, body).expect("write quick spec");
    let script = "require 'rubygems'; require 'zlib'; \
                  s = Marshal.load(Zlib::Inflate.inflate(File.binread(ARGV[0]))); \
                  puts s.class, s.name, s.version, s.platform, \
                  s.runtime_dependencies.map { |d| \"#{d.name} #{d.requirement}\" }.join(';')";
    let out = env
        .run(
            "ruby",
            &dir,
            &["-e", script, &path.display().to_string()],
            None,
        )
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "Gem::Specification",
            "pg_legacy",
            "1.1.0",
            "ruby",
            "pg_dep ~> 1.0"
        ],
        "{}",
        out.describe()
    );

    // A yank removes the version from the specs files.
    yank(
        &server,
        "rubygems",
        Some(&token),
        "pg_legacy",
        "1.0.0",
        None,
    )
    .expect(200);
    assert_eq!(
        ruby_specs(&server, "specs.4.8.gz").expect("ruby"),
        sorted(&["pg_legacy 1.1.0 ruby", "pg_legacy 1.1.0 x86_64-linux"])
    );
}
