use clap::Args;
use hublet_api::dto::ConnectionStringDto;

use super::Global;
use crate::client::{Client, ClientError};

#[derive(Debug, Args)]
pub struct ConnectionStringArgs {
    /// The service (policy) connection string; its HostName is the HTTPS
    /// listener (e.g. localhost:8443), which the Azure service SDK dials.
    #[arg(long)]
    pub service: bool,
    /// The Event Hub-compatible endpoint's connection string (for the Event
    /// Hubs SDKs' consumers: `Endpoint=sb://…;EntityPath=…`); its host is the
    /// AMQP listener.
    #[arg(long, conflicts_with = "service")]
    pub events: bool,
    /// Policy name.
    #[arg(long, default_value = "iothubowner")]
    pub policy: String,
    /// HostName to write instead of the HTTPS listener's address.
    #[arg(long)]
    pub host: Option<String>,
}

pub async fn run(g: &Global, a: ConnectionStringArgs) -> anyhow::Result<()> {
    if !a.service && !a.events {
        return Err(ClientError::Exit(
            crate::exit::codes::BAD_INPUT,
            "use `hublet connection-string --service` (or `--events` for the Event Hub-compatible endpoint), or `hublet device connection-string <id>` for a device".into(),
        )
        .into());
    }
    let c = Client::connect(g)?;
    let mut q = vec![("policy", a.policy)];
    if let Some(h) = a.host {
        q.push(("host", h));
    }
    let path = if a.events {
        "/api/connection-string/events"
    } else {
        "/api/connection-string/service"
    };
    let cs: ConnectionStringDto = c.get(path, &q).await?;
    if g.json {
        crate::output::json(&cs);
    } else {
        println!("{}", cs.connection_string);
    }
    Ok(())
}
