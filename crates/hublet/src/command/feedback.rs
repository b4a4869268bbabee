use clap::Args;
use hublet_api::dto::{FeedbackRecordDto, TraceEventDto};

use super::Global;
use crate::client::Client;
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

pub async fn run(g: &Global, a: FeedbackArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
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
