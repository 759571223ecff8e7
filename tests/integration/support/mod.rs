//! Shared harness: the server under test (`server`), an HTTP client (`http`), the real npm client
//! (`npm_client`), the real cargo client (`cargo_client`), the real gem/bundle clients
//! (`gem_client`), the real NuGet.exe on mono (`nuget_client`) and raw-socket requests that keep
//! the HTTP reason phrase (`nuget_http`). The "nothing changed" snapshots of every format share one
//! generic helper (`snapshot`). The real-client harnesses share how they run a command, its output
//! type and their environment scrubbing (`tool`).
//!
//! The package builders live in the codec crates, behind their `testing` feature:
//! `packgate_npm::testing` (npm 11 publish documents and tarballs), `packgate_cargo::testing`
//! (`.crate` files and publish bodies), `packgate_rubygems::testing` (`.gem` files plus
//! compact-index parsers) and `packgate_nuget::testing` (`.nupkg`/`.snupkg` files and malformed
//! zips).

pub mod cargo_client;
pub mod fault_proxy;
pub mod gem_client;
pub mod http;
pub mod npm_client;
pub mod nuget_client;
pub mod nuget_http;
pub mod proxy;
pub mod server;
pub mod snapshot;
pub mod tool;

pub use http::{Client, Resp};
pub use npm_client::Npm;
pub use server::TestServer;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A random 16-hex-digit string, distinct across calls and processes.
pub fn random_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::SeqCst));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// `len` pseudo-random (incompressible) bytes; the same `seed` gives the same bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Percent-encodes everything except RFC 3986 unreserved characters (like `encodeURIComponent`,
/// which also leaves `!'()*` alone).
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~!'()*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Called when a test's client tool is missing: prints the standard `SKIP:` line, or fails the
/// test when `PACKGATE_TEST_REQUIRE_CLIENTS=1` (as `.ci/run` sets it, so CI never passes by
/// skipping).
/// The skip is also appended to the file named by `PACKGATE_TEST_SKIP_LOG` (tools/test.sh sets
/// it and counts the lines at the end: the test harness swallows a passing test's output).
pub fn missing_tool(what: &str) {
    if std::env::var("PACKGATE_TEST_REQUIRE_CLIENTS").is_ok_and(|v| v == "1") {
        panic!("{what}, and PACKGATE_TEST_REQUIRE_CLIENTS=1 forbids skipping");
    }
    println!("SKIP: {what}");
    if let Ok(log) = std::env::var("PACKGATE_TEST_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("unknown test")
            .to_owned();
        let line = format!("{test}: {what}\n");
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
            let _ = std::io::Write::write_all(&mut f, line.as_bytes());
        }
    }
}

/// Prints the standard skip line and returns from the test when npm is not installed.
#[macro_export]
macro_rules! require_npm {
    () => {
        if !$crate::support::Npm::installed() {
            $crate::support::missing_tool("npm not installed");
            return;
        }
    };
}
