//! `hublet invoke`: a direct-method call; the device's status decides the
//! exit code (a 4xx or 5xx answer is a failure a script must see).

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
    /// Call one of the device's modules instead of the device.
    #[arg(long)]
    pub module: Option<String>,
    /// JSON payload; `@FILE` reads it from a file, `-` from standard input.
    #[arg(long, default_value = "null")]
    pub payload: String,
    /// Seconds to wait for the device to come online (0 to 300).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub connect_timeout: u64,
    /// Seconds to wait for the answer (5 to 300).
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub response_timeout: u64,
    /// Succeed whatever status the device answers (by default a status that
    /// is not 2xx exits with code 9).
    #[arg(long)]
    pub any_status: bool,
}

pub async fn run(g: &Global, a: InvokeArgs) -> anyhow::Result<()> {
    let text = crate::input::text(&a.payload, "--payload")?;
    let payload: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ClientError::Exit(codes::BAD_INPUT, format!("--payload is not JSON: {e}")))?;
    let c = Client::connect(g)?;
    let req = InvokeRequest {
        method_name: a.method.clone(),
        payload,
        connect_timeout_in_seconds: Some(a.connect_timeout),
        response_timeout_in_seconds: Some(a.response_timeout),
    };
    let r: MethodResultDto = c
        .call(
            Method::POST,
            &match &a.module {
                None => format!("/api/devices/{}/methods", seg(&a.id)),
                Some(m) => format!("/api/devices/{}/modules/{}/methods", seg(&a.id), seg(m)),
            },
            &req,
        )
        .await?;
    report(g, &r, &a.id, &a.method, a.any_status)
}

/// Prints a method's result (or its JSON) and fails with exit code 9 when
/// the device's status is not 2xx, unless `any_status` (`invoke`, `run`).
pub(crate) fn report(
    g: &Global,
    r: &MethodResultDto,
    device: &str,
    method: &str,
    any_status: bool,
) -> anyhow::Result<()> {
    if g.json {
        crate::output::json(r);
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
    if !any_status && !(200..300).contains(&r.status) {
        return Err(ClientError::Reported(
            codes::DEVICE_STATUS,
            format!(
                "'{device}' answered {method} with status {} (pass --any-status to accept it)",
                r.status
            ),
        )
        .into());
    }
    Ok(())
}
