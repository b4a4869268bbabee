use clap::Args;
use hublet_api::dto::{InvokeRequest, MethodResultDto};
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError, seg};
use crate::exit::codes;

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Device id.
    pub id: String,
    /// Method name.
    pub method: String,
    /// JSON payload.
    #[arg(long, default_value = "null")]
    pub payload: String,
    /// Seconds to wait for the device to come online (0 to 300).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub connect_timeout: u64,
    /// Seconds to wait for the answer (5 to 300).
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub response_timeout: u64,
}

pub async fn run(g: &Global, a: InvokeArgs) -> anyhow::Result<()> {
    let payload: serde_json::Value = serde_json::from_str(&a.payload)
        .map_err(|e| ClientError::Exit(codes::BAD_INPUT, format!("--payload is not JSON: {e}")))?;
    let c = Client::connect(g)?;
    let req = InvokeRequest {
        method_name: a.method,
        payload,
        connect_timeout_in_seconds: Some(a.connect_timeout),
        response_timeout_in_seconds: Some(a.response_timeout),
    };
    let r: MethodResultDto = c
        .call(
            Method::POST,
            &format!("/api/devices/{}/methods", seg(&a.id)),
            &req,
        )
        .await?;
    if g.json {
        crate::output::json(&r);
    } else {
        println!(
            "status {} in {:.1} ms (request {})",
            r.status, r.latency_ms, r.request_id
        );
        println!(
            "{}",
            serde_json::to_string_pretty(&r.payload).unwrap_or_default()
        );
    }
    Ok(())
}
