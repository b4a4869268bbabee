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
