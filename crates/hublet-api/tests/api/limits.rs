//! What a slow, idle, greedy or malformed client gets from the API's
//! listeners: nothing that can wear the hub down. Raw sockets on loopback,
//! short limits so that the waits stay short; every wait has a generous
//! bound and asserts what happened, not how fast.

use std::time::Duration;

use futures::StreamExt;
use hublet_api::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Api, TOKEN};

fn short() -> Limits {
    Limits {
        max_connections: 4,
        idle: Duration::from_millis(300),
        headers: Duration::from_millis(300),
        body: Duration::from_millis(400),
        ..Limits::default()
    }
}

async fn connect(a: &Api) -> TcpStream {
    TcpStream::connect(a.server.http_addr().unwrap())
        .await
        .unwrap()
}

/// Reads until the server closes; returns what it sent. Panics if the
/// connection is still open after `bound`.
async fn read_until_closed(s: &mut TcpStream, bound: Duration) -> String {
    let mut all = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read)
        .await
        .expect("the server should have closed the connection");
    String::from_utf8_lossy(&all).into_owned()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    let a = Api::with_limits(short()).await;
    let mut s = connect(&a).await;
    assert_eq!(read_until_closed(&mut s, Duration::from_secs(10)).await, "");
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_once_idle() {
    let a = Api::with_limits(short()).await;
    let mut s = connect(&a).await;
    s.write_all(get("/api/stats").as_bytes()).await.unwrap();
    let answered = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn headers_trickling_in_are_cut_off() {
    let a = Api::with_limits(short()).await;
    let mut s = connect(&a).await;
    s.write_all(b"GET /api/stats HTTP/1.1\r\n").await.unwrap();
    let trickle = async {
        for i in 0..200 {
            if s.write_all(format!("X-{i}: a\r\n").as_bytes())
                .await
                .is_err()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(10), trickle)
            .await
            .unwrap(),
        "the server kept reading headers for 10 s"
    );
}

#[tokio::test]
async fn a_body_trickling_in_gets_408() {
    let a = Api::with_limits(short()).await;
    let mut s = connect(&a).await;
    s.write_all(
        format!(
            "POST /api/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let until_answered = async {
        loop {
            tokio::select! {
                r = s.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                },
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    let _ = s.write_all(b" ").await;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), until_answered)
        .await
        .expect("the server should have answered and closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_gets_413_before_any_is_sent() {
    let a = Api::new().await;
    let mut s = connect(&a).await;
    s.write_all(
        format!(
            "POST /api/devices/d1/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer without sending the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("413001"), "{answer}");
}

/// The app's own requests are cross-origin (its UI comes from
/// `tauri://localhost`), so a refusal of their body must carry CORS headers
/// too or the app sees only a failed fetch; a page from a foreign origin is
/// refused for its origin before a byte of its body is read.
#[tokio::test]
async fn body_refusals_reach_the_app_and_foreign_pages_are_refused_first() {
    let a = Api::new().await;
    let send = |origin: &str| {
        format!(
            "POST /api/devices/d1/messages HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\nAuthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n"
        )
    };
    for (origin, status, code) in [
        ("tauri://localhost", "413", "413001"),
        ("https://evil.example", "403", "ForbiddenOrigin"),
    ] {
        let mut s = connect(&a).await;
        s.write_all(send(origin).as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("an answer without sending the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        assert!(
            answer.starts_with(&format!("http/1.1 {status}")),
            "{answer}"
        );
        assert!(answer.contains(&code.to_ascii_lowercase()), "{answer}");
        let granted = answer.contains("access-control-allow-origin: tauri://localhost");
        assert_eq!(granted, origin == "tauri://localhost", "{answer}");
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413() {
    let a = Api::new().await;
    a.device("d1").await;
    let big = vec![b'x'; hublet_api::router::BODY_LIMIT + 10];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    ));
    let r = a
        .req(reqwest::Method::POST, "/api/devices/d1/messages")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn connections_over_the_cap_get_503_and_places_come_back() {
    let a = Api::with_limits(Limits {
        max_connections: 3,
        ..Limits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&a).await;
        // A completed request proves the connection was admitted.
        s.write_all(get("/api/stats").as_bytes()).await.unwrap();
        let mut buf = [0u8; 16];
        s.read_exact(&mut buf).await.unwrap();
        assert!(buf.starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    let mut over = connect(&a).await;
    let answer = read_until_closed(&mut over, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after"), "{answer}");
    held.pop();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut s = connect(&a).await;
            s.write_all(get("/api/stats").as_bytes()).await.unwrap();
            let mut buf = [0u8; 12];
            if s.read_exact(&mut buf).await.is_ok() && &buf == b"HTTP/1.1 200" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(r.is_ok(), "a freed place was never reused");
}

#[tokio::test]
async fn a_live_stream_is_not_idle() {
    let a = Api::with_limits(short()).await;
    let r = a
        .req(reqwest::Method::GET, "/api/trace/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    // Well past the idle limit, the stream still delivers new events.
    tokio::time::sleep(Duration::from_millis(900)).await;
    a.device("late").await;
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("late") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
}

#[tokio::test]
async fn two_host_headers_are_refused() {
    let a = Api::new().await;
    let mut s = connect(&a).await;
    s.write_all(
        format!("GET /api/stats HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn an_absolute_target_naming_a_foreign_host_is_refused() {
    let a = Api::new().await;
    let mut s = connect(&a).await;
    s.write_all(
        format!("GET http://evil.example/api/stats HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let mut s = connect(&a).await;
    let port = a.server.http_addr().unwrap().port();
    s.write_all(
        format!("GET http://localhost:{port}/api/stats HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn the_query_token_only_opens_get_requests() {
    let a = Api::new().await;
    let r = a
        .http
        .post(a.url(&format!("/api/devices?access_token={TOKEN}")))
        .json(&serde_json::json!({"deviceId": "q1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(a.hub.registry().get("q1").await.is_err());
}

#[tokio::test]
async fn a_full_disk_is_a_507_disk_full_and_the_app_is_told() {
    let a = Api::with_full_disk_at(120).await;
    a.device("d1").await;
    let live = a
        .req(reqwest::Method::GET, "/api/trace/stream")
        .send()
        .await
        .unwrap();
    let mut live = live.bytes_stream();
    let body = "z".repeat(4000);
    let refused = loop {
        let r = a
            .req(reqwest::Method::POST, "/api/devices/d1/messages")
            .json(&serde_json::json!({ "body": body }))
            .send()
            .await
            .unwrap();
        if r.status() != 201 {
            break r;
        }
    };
    assert_eq!(refused.status(), 507);
    let v: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], 507001, "{v}");
    assert_eq!(v["error"]["name"], "DiskFull", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("is full"),
        "{v}"
    );
    let stats: serde_json::Value = a
        .req(reqwest::Method::GET, "/api/stats")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["storage"]["code"], 507001, "{stats}");
    let mut seen = String::new();
    let told = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = live.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: storage") && seen.contains("507001") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(told, Ok(true), "{seen}");
}
