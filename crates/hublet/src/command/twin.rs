//! `hublet twin show|update|replace ID`: a device's twin, as the service
//! SDKs see it. `update` merges tags and desired properties (a `null`
//! removes), `replace` swaps them whole; both take the body as JSON text,
//! `@file` or `-`, and an optional `--etag` (412 when the twin moved on).

use clap::{Args, Subcommand};
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum TwinCommand {
    /// Print the device's twin (tags, desired and reported properties, versions).
    Show(ShowArgs),
    /// Merge a patch into tags and desired properties, e.g.
    /// '{"properties":{"desired":{"setpoint":22}},"tags":{"room":"lab"}}'.
    Update(WriteArgs),
    /// Replace tags and desired properties with the document's.
    Replace(WriteArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The device.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The device.
    pub id: String,
    /// The twin document or patch: JSON, @file, or - for standard input.
    pub body: String,
    /// Apply only if the twin's etag is still this one.
    #[arg(long)]
    pub etag: Option<String>,
}

fn path(id: &str) -> String {
    format!("/api/devices/{}/twin", crate::client::seg(id))
}

pub async fn run(g: &Global, c: TwinCommand) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    let twin: serde_json::Value = match c {
        TwinCommand::Show(a) => client.get(&path(&a.id), &[]).await?,
        TwinCommand::Update(a) => write(&client, Method::PATCH, a).await?,
        TwinCommand::Replace(a) => write(&client, Method::PUT, a).await?,
    };
    // One JSON document either way: a twin is JSON by nature.
    crate::output::json(&twin);
    Ok(())
}

async fn write(client: &Client, method: Method, a: WriteArgs) -> anyhow::Result<serde_json::Value> {
    let text = crate::input::text(&a.body, "the twin")?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ClientError::Exit(codes::BAD_INPUT, format!("the twin is not JSON: {e}")))?;
    let mut rb = client.request(method, &path(&a.id)).json(&body);
    if let Some(etag) = a.etag {
        rb = rb.header(
            reqwest::header::IF_MATCH,
            format!("\"{}\"", etag.trim_matches('"')),
        );
    }
    Ok(client.send(rb).await?.json().await?)
}
