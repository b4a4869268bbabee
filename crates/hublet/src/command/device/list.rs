use clap::Args;
use hublet_api::dto::DeviceDto;

use crate::client::Client;
use crate::command::Global;
use crate::output;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only ids containing this text (case-insensitive).
    #[arg(long)]
    pub search: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

pub async fn run(g: &Global, a: ListArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let mut q = vec![("limit", a.limit.to_string())];
    if let Some(s) = a.search {
        q.push(("search", s));
    }
    let devices: Vec<DeviceDto> = c.get("/api/devices", &q).await?;
    if g.json {
        output::json(&devices);
        return Ok(());
    }
    if devices.is_empty() {
        println!("no devices yet — add one with: hublet device add <id>");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                d.device_id.clone(),
                d.kind.to_string(),
                d.status.to_string(),
                match &d.transport {
                    Some(t) => format!("{} ({t})", d.connection_state),
                    None => d.connection_state.to_string(),
                },
                d.cloud_to_device_message_count.to_string(),
                output::or_dash(&d.last_activity_time),
            ]
        })
        .collect();
    output::table(
        &[
            "DEVICE",
            "KIND",
            "STATUS",
            "CONNECTION",
            "QUEUE",
            "LAST ACTIVITY",
        ],
        &rows,
    );
    Ok(())
}
