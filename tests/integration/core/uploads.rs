//! Abandoned uploads: a body that makes no progress for `server.body_timeout` is cut with a 408,
//! its temp file removed, while other requests go on as usual.

use crate::support::TestServer;
use crate::support::nuget_http::multipart_content_type;
use packgate_npm::testing::Package;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends a request head announcing `len` body bytes and only `sent` of them, then waits for the
/// server's answer; returns what came back before the server closed the connection.
fn stalled(addr: &str, head: &str, len: usize, sent: usize) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!("{head}content-length: {len}\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(&vec![b'{'; sent]).expect("write part");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn upload_temp_files(server: &TestServer) -> Vec<String> {
    std::fs::read_dir(server.data_dir().join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("upload-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn stalled_uploads_are_cut_after_the_body_timeout_and_leave_no_temp_file() {
    let server = TestServer::builder()
        .env("PACKGATE__SERVER__BODY_TIMEOUT", "1")
        .start();
    let token = server.publisher("alice");
    let addr = format!("127.0.0.1:{}", server.port);
    let mut stalls = Vec::new();
    for i in 0..50 {
        let addr = addr.clone();
        let head = match i % 3 {
            // npm publish, cargo publish and a NuGet multipart push.
            0 => format!(
                "PUT /npm/stalled-{i} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n"
            ),
            1 => format!(
                "PUT /cargo/api/v1/crates/new HTTP/1.1\r\nhost: {addr}\r\nauthorization: {token}\r\n"
            ),
            _ => format!(
                "PUT /nuget/v3/package HTTP/1.1\r\nhost: {addr}\r\nx-nuget-apikey: {token}\r\ncontent-type: {}\r\n",
                multipart_content_type()
            ),
        };
        stalls.push(std::thread::spawn(move || {
            stalled(&addr, &head, 1_000_000, 1000)
        }));
    }
    // Meanwhile an ordinary publish goes through.
    std::thread::sleep(Duration::from_millis(200));
    let body = Package::new("not-stalled", "1.0.0").publish_body(&server.registry("npm"), "latest");
    server
        .http()
        .json("PUT", "/npm/not-stalled", Some(&token), &body)
        .expect(201);
    for (i, t) in stalls.into_iter().enumerate() {
        let answer = t.join().expect("stall thread");
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "stalled upload {i} must be answered 408 and closed: {answer:?}"
        );
    }
    assert!(
        crate::support::wait_until(Duration::from_secs(5), || upload_temp_files(&server)
            .is_empty()),
        "temp files left: {:?}",
        upload_temp_files(&server)
    );
    server.http().get("/npm/stalled-0").expect(404);
}
