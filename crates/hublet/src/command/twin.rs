//! `hublet twin show|update|replace|watch ID [--module M]`: a device's (or
//! module's) twin, as the service SDKs see it. `update` merges tags and
//! desired properties (a `null` removes), `replace` swaps them whole; both
//! take the body as JSON text, `@file` or `-`, and an optional `--etag`
//! (412 when the twin moved on). `watch` prints the twin, then each change
//! as it happens (one JSON line per `twin.updated` event with `--json`).

use clap::{Args, Subcommand};
use hublet_api::dto::TraceEventDto;
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum TwinCommand {
    /// Print the twin (tags, desired and reported properties, versions).
    Show(ShowArgs),
    /// Merge a patch into tags and desired properties, e.g.
    /// '{"properties":{"desired":{"setpoint":22}},"tags":{"room":"lab"}}'.
    Update(WriteArgs),
    /// Replace tags and desired properties with the document's.
    Replace(WriteArgs),
    /// Print the twin, then every change to it until interrupted.
    Watch(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The device.
    pub id: String,
    /// One of the device's modules, for its module twin.
    #[arg(long)]
    pub module: Option<String>,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The device.
    pub id: String,
    /// The twin document or patch: JSON, @file, or - for standard input.
    pub body: String,
    /// One of the device's modules, for its module twin.
    #[arg(long)]
    pub module: Option<String>,
    /// Apply only if the twin's etag is still this one.
    #[arg(long)]
    pub etag: Option<String>,
}

fn path(id: &str, module: Option<&str>) -> String {
    use crate::client::seg;
    match module {
        None => format!("/api/devices/{}/twin", seg(id)),
        Some(m) => format!("/api/devices/{}/modules/{}/twin", seg(id), seg(m)),
    }
}

pub async fn run(g: &Global, c: TwinCommand) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    let twin: serde_json::Value = match c {
        TwinCommand::Show(a) => client.get(&path(&a.id, a.module.as_deref()), &[]).await?,
        TwinCommand::Update(a) => write(&client, Method::PATCH, a).await?,
        TwinCommand::Replace(a) => write(&client, Method::PUT, a).await?,
        TwinCommand::Watch(a) => return watch(&client, g, a).await,
    };
    // One JSON document either way: a twin is JSON by nature.
    crate::output::json(&twin);
    Ok(())
}

async fn write(client: &Client, method: Method, a: WriteArgs) -> anyhow::Result<serde_json::Value> {
    let text = crate::input::text(&a.body, "the twin")?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ClientError::Exit(codes::BAD_INPUT, format!("the twin is not JSON: {e}")))?;
    let mut rb = client
        .request(method, &path(&a.id, a.module.as_deref()))
        .json(&body);
    if let Some(etag) = a.etag {
        rb = rb.header(
            reqwest::header::IF_MATCH,
            format!("\"{}\"", etag.trim_matches('"')),
        );
    }
    Ok(client.send(rb).await?.json().await?)
}

/// The twin now, then its `twin.updated` events from the live trace: the
/// stream starts after the newest event already stored, so no change
/// between the read and the stream is missed or shown twice.
async fn watch(client: &Client, g: &Global, a: ShowArgs) -> anyhow::Result<()> {
    let key = match &a.module {
        None => a.id.clone(),
        Some(m) => format!("{}/{m}", a.id),
    };
    let filter = vec![
        ("deviceId", key.clone()),
        ("kind", "twin.updated".to_string()),
    ];
    let mut q = filter.clone();
    q.push(("limit", "1".into()));
    q.push(("newestFirst", "true".into()));
    let last: Vec<TraceEventDto> = client.get("/api/trace", &q).await?;
    let twin: serde_json::Value = client.get(&path(&a.id, a.module.as_deref()), &[]).await?;
    crate::output::json(&twin);
    let mut sq = filter;
    sq.push((
        "afterId",
        last.first().map(|e| e.id).unwrap_or(0).to_string(),
    ));
    let resp = client.get_raw("/api/trace/stream", &sq).await?;
    crate::sse::read(resp, |ev| {
        if ev.event == "trace"
            && let Ok(e) = serde_json::from_str::<TraceEventDto>(&ev.data)
            // A device's filter takes in its modules' events too.
            && e.device_id.as_deref() == Some(key.as_str())
        {
            super::trace::print(&e, g.json);
        }
        true
    })
    .await
}
