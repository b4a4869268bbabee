use clap::Args;
use hublet_api::dto::DeviceDto;

use crate::client::{Client, seg};
use crate::command::Global;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Device id.
    pub id: String,
}

pub async fn run(g: &Global, a: ShowArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let d: DeviceDto = c.get(&format!("/api/devices/{}", seg(&a.id)), &[]).await?;
    if g.json {
        crate::output::json(&d);
    } else {
        super::print_device(&d);
    }
    Ok(())
}
