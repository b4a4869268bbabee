//! `hublet monitor [DEVICE…]`: device-to-cloud messages as a back end
//! reading the Event Hub-compatible endpoint sees them, live, like
//! `az iot hub monitor-events`: device (and module), partition and
//! sequence number, enqueued time, properties, and the body (as JSON when
//! it parses). `--json` prints one JSON object per event.

use clap::Args;
use hublet_api::dto::EventDto;

use super::Global;
use crate::client::Client;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Only these devices (all when none are named).
    pub devices: Vec<String>,
    /// Where to start: `latest` (new messages only), `earliest` (everything
    /// retained), or an RFC 3339 time.
    #[arg(long, default_value = "latest")]
    pub from: String,
    /// Also print each message's system and application properties.
    #[arg(long)]
    pub properties: bool,
    /// Stop after this many messages (e.g. in a script).
    #[arg(long)]
    pub count: Option<u64>,
}

pub async fn run(g: &Global, a: MonitorArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let q = vec![("from", a.from.clone()), ("devices", a.devices.join(","))];
    let resp = c.get_raw("/api/events/stream", &q).await?;
    if !g.json {
        eprintln!(
            "monitoring {} from {} (Ctrl-C to stop)",
            if a.devices.is_empty() {
                "every device".to_string()
            } else {
                a.devices.join(", ")
            },
            a.from
        );
    }
    let mut seen = 0u64;
    crate::sse::read(resp, |ev| {
        if ev.event == "event"
            && let Ok(e) = serde_json::from_str::<EventDto>(&ev.data)
        {
            if g.json {
                println!("{}", serde_json::to_string(&e).unwrap_or_default());
            } else {
                print_human(&e, a.properties);
            }
            seen += 1;
        } else if ev.event == "error" {
            eprintln!("error: {}", ev.data);
            return false;
        }
        a.count.is_none_or(|n| seen < n)
    })
    .await
}

fn print_human(e: &EventDto, properties: bool) {
    let who = match &e.module_id {
        Some(m) => format!("{}/{m}", e.device_id),
        None => e.device_id.clone(),
    };
    let body = match (&e.body.text, &e.body.base64) {
        (Some(t), _) => match serde_json::from_str::<serde_json::Value>(t) {
            Ok(v) => v.to_string(),
            Err(_) => t.clone(),
        },
        (None, Some(b)) => format!("(binary, base64) {b}"),
        (None, None) => String::new(),
    };
    println!(
        "{} {who} [partition {} #{}] {body}",
        e.enqueued_time, e.partition, e.sequence_number
    );
    if properties {
        let sys = [
            ("message-id", &e.message_id),
            ("correlation-id", &e.correlation_id),
            ("content-type", &e.content_type),
            ("content-encoding", &e.content_encoding),
        ];
        for (k, v) in sys {
            if let Some(v) = v {
                println!("    {k}: {v}");
            }
        }
        for (k, v) in &e.properties {
            println!("    {k}={}", v.as_deref().unwrap_or(""));
        }
        println!("    via {}, offset {}", e.via, e.offset);
    }
}
