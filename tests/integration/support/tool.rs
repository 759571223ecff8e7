//! What the real-client harnesses (`npm_client`, `cargo_client`, `gem_client`, `nuget_client`)
//! share: running one command with piped stdout/stderr, optional stdin (closed, text, or answers
//! to prompts) and a timeout after which the command is killed (by its own handle); its output
//! ([`ToolOut`]) with the usual assertions; and the environment helpers that remove inherited
//! variables ([`scrub_env`]) and send outbound proxy traffic to a closed local port
//! ([`blackhole_proxies`]).

use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A closed local port: a request sent through a proxy here fails at once.
pub const BLACKHOLE_PROXY: &str = "http://127.0.0.1:9";

/// The hosts reached directly, never through a proxy: where the test server listens.
pub const NO_PROXY: &str = "127.0.0.1,localhost";

/// The output of one client command.
#[derive(Debug)]
pub struct ToolOut {
    /// The command as shown in messages (`npm publish --access public`).
    pub cmd: String,
    /// The exit status; `None` when the command timed out and was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOut {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The command, its exit status and both streams, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.status, self.stdout, self.stderr
        )
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics unless the command succeeded.
    pub fn ok(self) -> ToolOut {
        assert!(self.success(), "command failed: {}", self.describe());
        self
    }

    /// Panics unless the command ran to completion with a non-zero exit.
    pub fn failed(self) -> ToolOut {
        assert!(
            self.status.is_some_and(|s| !s.success()),
            "command should have failed: {}",
            self.describe()
        );
        self
    }

    /// Panics unless stdout or stderr contains one of `needles` (case-insensitive).
    pub fn mentions_any(self, needles: &[&str]) -> ToolOut {
        let all = self.all().to_lowercase();
        assert!(
            needles.iter().any(|n| all.contains(&n.to_lowercase())),
            "expected one of {needles:?} in the output of {}",
            self.describe()
        );
        self
    }

    /// Panics unless stdout or stderr contains `needle` exactly (case-sensitive).
    pub fn mentions_exactly(self, needle: &str) -> ToolOut {
        assert!(
            self.all().contains(needle),
            "expected {needle:?} verbatim in the output of {}",
            self.describe()
        );
        self
    }

    /// Panics if stdout or stderr contains `needle` (case-insensitive).
    pub fn never_mentions(self, needle: &str) -> ToolOut {
        assert!(
            !self.all().to_lowercase().contains(&needle.to_lowercase()),
            "unexpected {needle:?} in the output of {}",
            self.describe()
        );
        self
    }

    /// stdout parsed as JSON; panics when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.describe()))
    }
}

/// What a command gets on stdin.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// Nothing: stdin is closed (`/dev/null`).
    Closed,
    /// The text, written at the start; stdin is closed after it.
    Text(&'a str),
    /// For each `(prompt, answer)` in turn: once stdout or stderr shows `prompt` (after where
    /// the previous prompt was seen), `answer\n` is written; stdin is closed after the last
    /// answer. No pairs is the same as [`Input::Closed`].
    Answers(&'a [(&'a str, &'a str)]),
}

type Buf = Arc<Mutex<Vec<u8>>>;

/// Runs `cmd` (its environment and directory already set up) with `input` on stdin and stdout
/// and stderr collected; kills it (by its own handle) when it has not exited after `timeout`,
/// leaving `status` `None`. `cmd_text` is how messages show the command. Panics when the
/// command cannot be started.
pub fn run(mut cmd: Command, cmd_text: String, input: Input, timeout: Duration) -> ToolOut {
    let (text_in, answers): (Option<&str>, &[(&str, &str)]) = match input {
        Input::Closed => (None, &[]),
        Input::Text(text) => (Some(text), &[]),
        Input::Answers(answers) => (None, answers),
    };
    cmd.stdin(if text_in.is_some() || !answers.is_empty() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd_text}: {e}"));
    let stdout = Buf::default();
    let stderr = Buf::default();
    let readers = [
        pump(child.stdout.take().expect("stdout"), stdout.clone()),
        pump(child.stderr.take().expect("stderr"), stderr.clone()),
    ];
    let mut stdin = child.stdin.take();
    if let Some(text) = text_in
        && let Some(mut pipe) = stdin.take()
    {
        let _ = pipe.write_all(text.as_bytes());
        // Dropping `pipe` closes stdin.
    }
    let deadline = Instant::now() + timeout;
    // How far each stream has been searched for prompts: [stdout, stderr].
    let mut searched = [0usize; 2];
    let mut pending = answers.iter();
    let mut next = pending.next();
    let status = loop {
        if let Some((prompt, answer)) = next {
            let mut found = false;
            for (i, stream) in [&stdout, &stderr].into_iter().enumerate() {
                let text = text(stream);
                if let Some(pos) = text.get(searched[i]..).and_then(|rest| rest.find(prompt)) {
                    searched[i] += pos + prompt.len();
                    found = true;
                    break;
                }
            }
            if found {
                std::thread::sleep(Duration::from_millis(100));
                if let Some(pipe) = stdin.as_mut() {
                    let _ = pipe.write_all(format!("{answer}\n").as_bytes());
                    let _ = pipe.flush();
                }
                next = pending.next();
                if next.is_none() {
                    stdin = None; // close: no more input
                }
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    drop(stdin);
    for r in readers {
        let _ = r.join();
    }
    ToolOut {
        cmd: cmd_text,
        status,
        stdout: text(&stdout),
        stderr: text(&stderr),
    }
}

fn text(buf: &Buf) -> String {
    String::from_utf8_lossy(&buf.lock().expect("lock")).into_owned()
}

/// Copies everything `from` yields into `into`, on its own thread, until EOF or an error.
fn pump(mut from: impl Read + Send + 'static, into: Buf) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().expect("lock").extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Removes from `cmd`'s environment every inherited variable whose name, upper-cased (ASCII),
/// `drop` accepts. Names that are not valid Unicode are kept.
pub fn scrub_env(cmd: &mut Command, drop: impl Fn(&str) -> bool) {
    for (key, _) in std::env::vars_os() {
        if let Some(name) = key.to_str()
            && drop(&name.to_ascii_uppercase())
        {
            cmd.env_remove(&key);
        }
    }
}

/// Points `http_proxy`, `https_proxy`, `HTTP_PROXY` and `HTTPS_PROXY` at [`BLACKHOLE_PROXY`]
/// with `no_proxy`/`NO_PROXY` = [`NO_PROXY`], so a request to any host but the test server fails
/// instead of reaching the network.
pub fn blackhole_proxies(cmd: &mut Command) {
    for key in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] {
        cmd.env(key, BLACKHOLE_PROXY);
    }
    cmd.env("no_proxy", NO_PROXY).env("NO_PROXY", NO_PROXY);
}
