use clap::Args as ClapArgs;
use hublet_api::dto::ConnectionStringDto;

use crate::client::{Client, seg};
use crate::command::Global;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Device id.
    pub id: String,
    /// The address devices dial, added as GatewayHostName when it differs
    /// from the hub name (e.g. the machine's LAN name for a Wi-Fi board).
    #[arg(long, default_value = "localhost")]
    pub gateway: String,
}

pub async fn run(g: &Global, a: Args) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let cs: ConnectionStringDto = c
        .get(
            &format!("/api/devices/{}/connection-string", seg(&a.id)),
            &[("gateway", a.gateway)],
        )
        .await?;
    if g.json {
        crate::output::json(&cs);
    } else {
        println!("{}", cs.connection_string);
    }
    Ok(())
}
