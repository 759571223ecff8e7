//! Start-up on a new data dir: the server and an admin command started at the same moment (the
//! README's first steps, or a container entrypoint that creates the admin user) take turns at
//! migrating the database instead of breaking each other.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_packgate");

fn packgate(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("PACKGATE__") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args);
    cmd
}

#[test]
fn serve_and_an_admin_command_started_together_on_a_new_data_dir_both_succeed() {
    for trial in 0..20 {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let data = data.to_str().expect("utf-8 path");
        let mut serve = packgate(&["serve", "--listen", "127.0.0.1:0", "--data-dir", data])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let admin = packgate(&["user", "add", "root", "--admin", "--data-dir", data])
            .output()
            .expect("run user add");
        let stdout = serve.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let listening = line
            .trim()
            .strip_prefix("packgate listening on ")
            .map(str::to_owned);
        let health = listening.as_ref().map(|base| {
            ureq::get(&format!("{base}/healthz"))
                .call()
                .map(|r| r.status().as_u16())
        });
        let _ = serve.kill();
        let served = serve.wait_with_output().expect("serve output");
        assert!(
            listening.is_some(),
            "trial {trial}: the server did not start: {line:?}\n{}",
            String::from_utf8_lossy(&served.stderr)
        );
        assert!(
            matches!(health, Some(Ok(200))),
            "trial {trial}: /healthz after the listening line: {health:?}"
        );
        assert!(
            admin.status.success(),
            "trial {trial}: `packgate user add` failed beside a starting server: {}",
            String::from_utf8_lossy(&admin.stderr)
        );
        let token = packgate(&["token", "create", "root", "--data-dir", data])
            .output()
            .expect("run token create");
        assert!(
            token.status.success() && String::from_utf8_lossy(&token.stdout).starts_with("pgt_"),
            "trial {trial}: the user created beside the server exists: {}",
            String::from_utf8_lossy(&token.stderr)
        );
    }
}

#[test]
fn a_new_data_dir_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("fresh").join("data");
    let data_str = data.to_str().expect("utf-8 path");
    let out = packgate(&["migrate", "--data-dir", data_str])
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("packgate.sqlite")), 0o600, "database file");
}
