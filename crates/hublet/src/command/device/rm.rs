use clap::Args;
use reqwest::Method;

use crate::client::{Client, seg};
use crate::command::Global;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Device id.
    pub id: String,
}

pub async fn run(g: &Global, a: RmArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    c.call_empty(Method::DELETE, &format!("/api/devices/{}", seg(&a.id)))
        .await?;
    if g.json {
        crate::output::json(&serde_json::json!({"deleted": a.id}));
    } else {
        println!("deleted device '{}' (with its C2D queue)", a.id);
    }
    Ok(())
}
