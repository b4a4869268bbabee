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
    /// Show at most this many (1 or more); the list says when there are more.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

pub async fn run(g: &Global, a: ListArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let limit = a.limit as usize;
    // One more than asked for tells whether the list is cut.
    let mut q = vec![("limit", (limit + 1).to_string())];
    if let Some(s) = &a.search {
        q.push(("search", s.clone()));
    }
    let mut devices: Vec<DeviceDto> = c.get("/api/devices", &q).await?;
    let cut = devices.len() > limit;
    devices.truncate(limit);
    if g.json {
        // JSON stays a plain list of devices; a cut list says so on stderr.
        if cut {
            eprintln!(
                "warning: only the first {limit} devices are listed; use --limit or --search for the rest"
            );
        }
        output::json(&devices);
        return Ok(());
    }
    if devices.is_empty() {
        match &a.search {
            Some(s) => println!("no device id contains '{s}'"),
            None => println!("no devices yet — add one with: hublet device add <id>"),
        }
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
    if cut {
        println!(
            "(only the first {limit} devices, in id order: use --limit N for more, or --search TEXT)"
        );
    }
    Ok(())
}
