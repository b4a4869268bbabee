//! `hublet module add|list|show|rm|connection-string DEVICE [MODULE]`:
//! module identities of a device, each with its own keys and connection
//! string (`…;DeviceId=d;ModuleId=m;…`) for an Azure IoT SDK module client.

use clap::{Args, Subcommand};
use hublet_api::dto::{ConnectionStringDto, ModuleDto, NewModuleRequest};
use reqwest::Method;

use super::Global;
use crate::client::{Client, seg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create a module on a device (keys are generated).
    Add(AddArgs),
    /// List a device's modules.
    List(DeviceArg),
    /// Show one module: connection, keys.
    Show(ModuleArgs),
    /// Delete a module with its twin (disconnects it).
    Rm(ModuleArgs),
    /// Print a module's connection string.
    ConnectionString(ConnectionStringArgs),
}

#[derive(Debug, Args)]
pub struct DeviceArg {
    /// The device.
    pub device: String,
}

#[derive(Debug, Args)]
pub struct ModuleArgs {
    /// The device.
    pub device: String,
    /// The module.
    pub module: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The device.
    pub device: String,
    /// The new module's id (a device id's rules).
    pub module: String,
    /// Who manages it (free text, shown in the registry).
    #[arg(long)]
    pub managed_by: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConnectionStringArgs {
    /// The device.
    pub device: String,
    /// The module.
    pub module: String,
    /// The address modules dial, added as GatewayHostName when it differs
    /// from the hub name.
    #[arg(long, default_value = "localhost")]
    pub gateway: String,
}

fn path(device: &str, module: Option<&str>) -> String {
    match module {
        None => format!("/api/devices/{}/modules", seg(device)),
        Some(m) => format!("/api/devices/{}/modules/{}", seg(device), seg(m)),
    }
}

pub async fn run(g: &Global, c: ModuleCommand) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    match c {
        ModuleCommand::Add(a) => {
            let req = NewModuleRequest {
                module_id: a.module,
                managed_by: a.managed_by,
                ..Default::default()
            };
            let m: ModuleDto = client
                .call(Method::POST, &path(&a.device, None), &req)
                .await?;
            if g.json {
                output::json(&m);
            } else {
                println!(
                    "created module '{}' on device '{}'; its connection string: hublet module connection-string {} {}",
                    m.module_id, m.device_id, m.device_id, m.module_id
                );
            }
        }
        ModuleCommand::List(a) => {
            let all: Vec<ModuleDto> = client.get(&path(&a.device, None), &[]).await?;
            if g.json {
                output::json(&all);
            } else if all.is_empty() {
                println!(
                    "device '{}' has no modules — add one with: hublet module add {} <module>",
                    a.device, a.device
                );
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|m| {
                        vec![
                            m.module_id.clone(),
                            match &m.transport {
                                Some(t) => format!("{} ({t})", m.connection_state),
                                None => m.connection_state.to_string(),
                            },
                            output::or_dash(&m.managed_by),
                            output::or_dash(&m.last_activity_time),
                        ]
                    })
                    .collect();
                output::table(
                    &["MODULE", "CONNECTION", "MANAGED BY", "LAST ACTIVITY"],
                    &rows,
                );
            }
        }
        ModuleCommand::Show(a) => {
            let m: ModuleDto = client.get(&path(&a.device, Some(&a.module)), &[]).await?;
            if g.json {
                output::json(&m);
            } else {
                println!("{}/{}", m.device_id, m.module_id);
                println!(
                    "  connection    {} since {}",
                    m.connection_state, m.connection_state_updated_time
                );
                println!("  last activity {}", output::or_dash(&m.last_activity_time));
                println!("  managed by    {}", output::or_dash(&m.managed_by));
                println!(
                    "  primary key   {}",
                    m.authentication.symmetric_key.primary_key
                );
                println!(
                    "  secondary key {}",
                    m.authentication.symmetric_key.secondary_key
                );
                println!("  generation    {}   etag {}", m.generation_id, m.etag);
            }
        }
        ModuleCommand::Rm(a) => {
            client
                .call_empty(Method::DELETE, &path(&a.device, Some(&a.module)))
                .await?;
            if g.json {
                output::json(
                    &serde_json::json!({"deleted": {"deviceId": a.device, "moduleId": a.module}}),
                );
            } else {
                println!(
                    "deleted module '{}' of device '{}' (with its twin)",
                    a.module, a.device
                );
            }
        }
        ModuleCommand::ConnectionString(a) => {
            let cs: ConnectionStringDto = client
                .get(
                    &format!("{}/connection-string", path(&a.device, Some(&a.module))),
                    &[("gateway", a.gateway)],
                )
                .await?;
            if g.json {
                output::json(&cs);
            } else {
                println!("{}", cs.connection_string);
            }
        }
    }
    Ok(())
}
