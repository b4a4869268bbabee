//! `hublet query "SELECT * FROM devices WHERE tags.room = 'lab'"`: IoT Hub's
//! query language over the device twins. Prints every row (all pages) as
//! one JSON array.

use clap::Args;
use reqwest::Method;

use super::Global;
use crate::client::Client;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query: SELECT … FROM devices [WHERE …] [GROUP BY …]; @file or - read it.
    pub query: String,
    /// Rows per request to the hub.
    #[arg(long, default_value_t = 100)]
    pub page_size: usize,
}

pub async fn run(g: &Global, a: QueryArgs) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    let text = crate::input::text(&a.query, "the query")?;
    let body = serde_json::json!({ "query": text });
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let mut continuation: Option<String> = None;
    loop {
        let mut rb = client
            .request(Method::POST, "/api/query")
            .header("x-ms-max-item-count", a.page_size.to_string())
            .json(&body);
        if let Some(c) = &continuation {
            rb = rb.header("x-ms-continuation", c);
        }
        let resp = client.send(rb).await?;
        continuation = resp
            .headers()
            .get("x-ms-continuation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let page: Vec<serde_json::Value> = resp.json().await?;
        rows.extend(page);
        if continuation.is_none() {
            break;
        }
    }
    crate::output::json(&rows);
    Ok(())
}
