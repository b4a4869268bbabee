use clap::Args;
use hublet_api::dto::{DeviceDto, DeviceUpdateRequest};
use reqwest::Method;

use crate::client::{Client, seg};
use crate::command::Global;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Device id.
    pub id: String,
    /// Why (shown in the device's status).
    #[arg(long)]
    pub reason: Option<String>,
}

pub async fn run(g: &Global, a: StatusArgs, enable: bool) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let req = DeviceUpdateRequest {
        status: Some(if enable { "enabled" } else { "disabled" }.into()),
        status_reason: a.reason,
    };
    let d: DeviceDto = c
        .call(Method::PATCH, &format!("/api/devices/{}", seg(&a.id)), &req)
        .await?;
    if g.json {
        crate::output::json(&d);
    } else {
        println!("device '{}' is {}", d.device_id, d.status);
    }
    Ok(())
}
