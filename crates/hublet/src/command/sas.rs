//! `hublet sas device ID` / `hublet sas service`: SAS tokens made the way
//! the Azure SDKs make them, for curl, a script, or firmware under test.

use clap::{Args, Subcommand};
use hublet_api::dto::SasTokenDto;

use super::{Global, duration};
use crate::client::{Client, seg};

#[derive(Debug, Subcommand)]
pub enum SasCommand {
    /// A device's token (`sr` = HOSTNAME/devices/ID, signed with its key).
    Device(DeviceSasArgs),
    /// A shared access policy's token (`sr` = the hub name, `skn` = the policy).
    Service(ServiceSasArgs),
}

#[derive(Debug, Args)]
pub struct DeviceSasArgs {
    /// Device id.
    pub id: String,
    /// How long it is valid: 90 (seconds), 30m, 2h, 7d.
    #[arg(long, default_value = "1h")]
    pub duration: String,
    /// Sign with the secondary key.
    #[arg(long)]
    pub secondary: bool,
}

#[derive(Debug, Args)]
pub struct ServiceSasArgs {
    /// The policy.
    #[arg(long, default_value = "iothubowner")]
    pub policy: String,
    /// The resource (`sr`), default the hub name; e.g. localhost:8443.
    #[arg(long)]
    pub host: Option<String>,
    /// How long it is valid: 90 (seconds), 30m, 2h, 7d.
    #[arg(long, default_value = "1h")]
    pub duration: String,
}

pub async fn run(g: &Global, c: SasCommand) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    let t: SasTokenDto = match c {
        SasCommand::Device(a) => {
            let ttl = duration::parse("--duration", &a.duration)?;
            let key = if a.secondary { "secondary" } else { "primary" };
            client
                .get(
                    &format!("/api/devices/{}/sas-token", seg(&a.id)),
                    &[("ttlSecs", ttl.as_secs().to_string()), ("key", key.into())],
                )
                .await?
        }
        SasCommand::Service(a) => {
            let ttl = duration::parse("--duration", &a.duration)?;
            let mut q = vec![("ttlSecs", ttl.as_secs().to_string()), ("policy", a.policy)];
            if let Some(h) = a.host {
                q.push(("host", h));
            }
            client.get("/api/sas-token/service", &q).await?
        }
    };
    if g.json {
        crate::output::json(&t);
    } else {
        println!("{}", t.token);
        eprintln!("(expires {})", t.expires_at);
    }
    Ok(())
}
