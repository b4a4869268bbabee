//! A small Server-Sent Events reader for `--follow`.

use futures::StreamExt;

/// One SSE event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Calls `on_event` for each event of the response body until it ends or
/// `on_event` returns false.
pub async fn read(
    resp: reqwest::Response,
    mut on_event: impl FnMut(SseEvent) -> bool,
) -> anyhow::Result<()> {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    while let Some(chunk) = stream.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk?));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(ev) = parse(&block)
                && !on_event(ev)
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut ev = SseEvent::default();
    let mut any = false;
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            ev.event = v.trim().to_string();
            any = true;
        } else if let Some(v) = line.strip_prefix("data:") {
            if !ev.data.is_empty() {
                ev.data.push('\n');
            }
            ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            any = true;
        }
    }
    any.then_some(ev)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_event_and_multi_line_data() {
        let e = parse("event: trace\nid: 3\ndata: {\"a\":\ndata: 1}\n\n").unwrap();
        assert_eq!(e.event, "trace");
        assert_eq!(e.data, "{\"a\":\n1}");
        assert!(parse(": keep-alive\n\n").is_none());
    }
}
