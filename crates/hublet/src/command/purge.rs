use clap::Args;
use hublet_api::dto::PurgeResultDto;

use super::Global;
use crate::client::{Client, seg};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Device id.
    pub id: String,
}

pub async fn run(g: &Global, a: PurgeArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let r: PurgeResultDto = c
        .delete_json(&format!("/api/devices/{}/messages", seg(&a.id)))
        .await?;
    if g.json {
        crate::output::json(&r);
    } else {
        println!(
            "purged {} message(s) from '{}'",
            r.total_messages_purged, r.device_id
        );
    }
    Ok(())
}
