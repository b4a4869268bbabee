//! `hublet device regenerate-key ID [--secondary]`: a fresh random key
//! (connections made with the old one keep running until they reconnect).

use clap::Args;
use hublet_api::dto::DeviceDto;
use reqwest::Method;

use crate::client::{Client, seg};
use crate::command::Global;

#[derive(Debug, Args)]
pub struct RegenerateArgs {
    /// Device id.
    pub id: String,
    /// Replace the secondary key (default: the primary).
    #[arg(long)]
    pub secondary: bool,
}

pub async fn run(g: &Global, a: RegenerateArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let which = if a.secondary { "secondary" } else { "primary" };
    let d: DeviceDto = c
        .call(
            Method::POST,
            &format!("/api/devices/{}/keys/{which}/regenerate", seg(&a.id)),
            &serde_json::Value::Null,
        )
        .await?;
    if g.json {
        crate::output::json(&d);
    } else {
        let key = if a.secondary {
            &d.authentication.symmetric_key.secondary_key
        } else {
            &d.authentication.symmetric_key.primary_key
        };
        println!("new {which} key of '{}': {key}", d.device_id);
    }
    Ok(())
}
