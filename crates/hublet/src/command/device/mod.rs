//! `hublet device …`: one file per verb.

mod add;
mod connection_string;
mod list;
mod regenerate_key;
mod rm;
mod show;
mod status;

use clap::Subcommand;

use super::Global;

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Register a device (keys are generated unless given).
    Add(add::AddArgs),
    /// List devices, optionally those whose id contains some text.
    List(list::ListArgs),
    /// Show one device: state, queue depth, keys.
    Show(show::ShowArgs),
    /// Delete a device with its queue.
    Rm(rm::RmArgs),
    /// Let a device connect again.
    Enable(status::StatusArgs),
    /// Refuse and disconnect a device.
    Disable(status::StatusArgs),
    /// Print a device's connection string.
    ConnectionString(connection_string::Args),
    /// Replace a device's primary (or secondary) key with a fresh one.
    RegenerateKey(regenerate_key::RegenerateArgs),
}

pub async fn run(g: &Global, c: DeviceCommand) -> anyhow::Result<()> {
    match c {
        DeviceCommand::Add(a) => add::run(g, a).await,
        DeviceCommand::List(a) => list::run(g, a).await,
        DeviceCommand::Show(a) => show::run(g, a).await,
        DeviceCommand::Rm(a) => rm::run(g, a).await,
        DeviceCommand::Enable(a) => status::run(g, a, true).await,
        DeviceCommand::Disable(a) => status::run(g, a, false).await,
        DeviceCommand::ConnectionString(a) => connection_string::run(g, a).await,
        DeviceCommand::RegenerateKey(a) => regenerate_key::run(g, a).await,
    }
}

/// Prints one device for humans.
pub fn print_device(d: &hublet_api::dto::DeviceDto) {
    println!("{}", d.device_id);
    println!(
        "  status        {}{}",
        d.status,
        d.status_reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("  kind          {}", d.kind);
    println!(
        "  connection    {}{} since {}",
        d.connection_state,
        d.transport
            .as_ref()
            .map(|t| format!(" via {t}"))
            .unwrap_or_default(),
        d.connection_state_updated_time
    );
    println!(
        "  last activity {}",
        crate::output::or_dash(&d.last_activity_time)
    );
    println!("  C2D queue     {}", d.cloud_to_device_message_count);
    if !d.model_id.is_empty() {
        println!("  model         {}", d.model_id);
    }
    println!(
        "  primary key   {}",
        d.authentication.symmetric_key.primary_key
    );
    println!(
        "  secondary key {}",
        d.authentication.symmetric_key.secondary_key
    );
    println!("  generation    {}   etag {}", d.generation_id, d.etag);
}
