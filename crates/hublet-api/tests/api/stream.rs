//! The live trace as Server-Sent Events.

use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use crate::support::Api;

async fn next_trace(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buf: &mut String,
) -> Value {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:"))
                && block.contains("event: trace")
            {
                return serde_json::from_str(data.trim()).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_stream_replays_after_an_id_then_follows_live_with_filters() {
    let a = Api::new().await;
    a.device("d1").await;
    a.device("d2").await;
    a.hub.trace().flush().await.unwrap();
    let first = a.hub.trace().query(Default::default()).await.unwrap()[0].id;
    let r = a
        .req(
            Method::GET,
            &format!("/api/trace/stream?afterId={first}&kind=device,c2d"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut s = r.bytes_stream();
    let mut buf = String::new();
    let replayed = next_trace(&mut s, &mut buf).await;
    assert_eq!(
        (replayed["kind"].as_str(), replayed["deviceId"].as_str()),
        (Some("device.created"), Some("d2"))
    );
    a.hub
        .mailbox()
        .send("d1", hublet_core::NewMessage::text("live"))
        .await
        .unwrap();
    let live = next_trace(&mut s, &mut buf).await;
    assert_eq!(live["kind"], "c2d.enqueued");
    assert!(live["id"].as_i64().unwrap() > replayed["id"].as_i64().unwrap());
}

/// Reads the stream until a block naming `event: <kind>` arrives, and
/// returns that block; panics after `within`.
async fn next_named(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    kind: &str,
    within: std::time::Duration,
) -> String {
    let mut buf = String::new();
    let wanted = format!("event: {kind}\n");
    tokio::time::timeout(within, async {
        loop {
            if let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if block.contains(&wanted) {
                    return block;
                }
                continue;
            }
            let chunk = stream.next().await.expect("the stream is open").unwrap();
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no `event: {kind}` within {within:?}: {buf:?}"))
}

#[tokio::test]
async fn a_quiet_stream_sends_pings_so_clients_notice_a_silent_hub_within_a_second() {
    let a = Api::new().await;
    let r = a
        .req(Method::GET, "/api/trace/stream")
        .send()
        .await
        .unwrap();
    let mut s = r.bytes_stream();
    for _ in 0..3 {
        let ping = next_named(&mut s, "ping", std::time::Duration::from_millis(600)).await;
        // A browser's EventSource drops an event with empty data.
        assert!(ping.contains("data: {}"), "{ping:?}");
    }
}

#[tokio::test]
async fn stopping_the_server_ends_live_streams_at_once() {
    let a = Api::new().await;
    let r = a
        .req(Method::GET, "/api/trace/stream")
        .send()
        .await
        .unwrap();
    let mut s = r.bytes_stream();
    next_named(&mut s, "ping", std::time::Duration::from_secs(2)).await;
    let t0 = std::time::Instant::now();
    // Without ending the stream, shutdown waits out its 10 s deadline.
    a.server.shutdown().await;
    tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(_)) = s.next().await {}
    })
    .await
    .expect("the stream ends when the server stops");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "shutdown took {:?}",
        t0.elapsed()
    );
}
