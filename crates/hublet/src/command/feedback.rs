use clap::Args;
use hublet_api::dto::{FeedbackRecordDto, TraceEventDto};

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;
use crate::output;

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// Only this device's records.
    #[arg(long)]
    pub device: Option<String>,
    /// How many recent records to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Keep printing records as they are produced (Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
    /// Wait for the feedback record of this message id, print it and exit:
    /// 0 when the device completed it, 8 for a negative outcome, 4 when none
    /// came within --timeout.
    #[arg(long, value_name = "MESSAGE_ID", conflicts_with = "follow")]
    pub wait_on_msg: Option<String>,
    /// How long --wait-on-msg waits: 90 (seconds), 5m, 1h.
    #[arg(long, default_value = "60", requires = "wait_on_msg")]
    pub timeout: String,
}

fn print(r: &FeedbackRecordDto, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
    } else {
        println!(
            "{}  {:<22} {:<12} {}",
            r.enqueued_time_utc, r.status_code, r.device_id, r.original_message_id
        );
    }
}

/// `--wait-on-msg`: polls the hub's feedback list for the message.
async fn wait_on(g: &Global, c: &Client, id: &str, a: &FeedbackArgs) -> anyhow::Result<()> {
    let wait = super::duration::parse("--timeout", &a.timeout)?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        let mut q = vec![("messageId", id.to_string())];
        if let Some(d) = &a.device {
            q.push(("deviceId", d.clone()));
        }
        let records: Vec<FeedbackRecordDto> = c.get("/api/feedback", &q).await?;
        if let Some(r) = records.into_iter().next() {
            print(&r, g.json);
            if r.status_code != hublet_core::FeedbackStatus::Success {
                return Err(ClientError::Reported(
                    codes::NEGATIVE_FEEDBACK,
                    format!("message '{id}' ended {}", r.status_code),
                )
                .into());
            }
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(ClientError::Exit(
                codes::TIMEOUT,
                format!(
                    "no feedback for message '{id}' within {} s (was it sent with --ack?)",
                    wait.as_secs()
                ),
            )
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub async fn run(g: &Global, a: FeedbackArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    if let Some(id) = &a.wait_on_msg {
        return wait_on(g, &c, id, &a).await;
    }
    let mut q = vec![("limit", a.limit.to_string())];
    if let Some(d) = &a.device {
        q.push(("deviceId", d.clone()));
    }
    let mut records: Vec<FeedbackRecordDto> = c.get("/api/feedback", &q).await?;
    records.reverse();
    if g.json && !a.follow {
        output::json(&records);
        return Ok(());
    }
    if records.is_empty() && !a.follow && !g.json {
        println!("no feedback yet — send with --ack full to ask for it");
    }
    for r in &records {
        print(r, g.json);
    }
    if !a.follow {
        return Ok(());
    }
    let last = records.iter().filter_map(|r| r.trace_id).max().unwrap_or(0);
    let mut sq = vec![
        ("kind", "feedback.produced".to_string()),
        ("afterId", last.to_string()),
    ];
    if let Some(d) = &a.device {
        sq.push(("deviceId", d.clone()));
    }
    let resp = c.get_raw("/api/trace/stream", &sq).await?;
    crate::sse::read(resp, |ev| {
        if ev.event == "trace"
            && let Ok(e) = serde_json::from_str::<TraceEventDto>(&ev.data)
            && let Some(r) = to_record(&e)
        {
            print(&r, g.json);
        }
        true
    })
    .await
}

/// The record a `feedback.produced` event describes (the API's own mapping).
fn to_record(e: &TraceEventDto) -> Option<FeedbackRecordDto> {
    FeedbackRecordDto::from_event(e)
}
