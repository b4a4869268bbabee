//! `hublet events info|consumer-group-add|consumer-group-rm`: the Event
//! Hub-compatible endpoint's partitions and consumer groups (what the
//! Event Hubs SDKs' `get_partition_properties` shows, and the groups
//! readers use besides `$Default`).

use clap::{Args, Subcommand};
use hublet_api::dto::EventHubDto;
use reqwest::Method;

use super::Global;
use crate::client::{Client, seg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The endpoint's name, each partition's numbers and the consumer groups.
    Info,
    /// Create a consumer group.
    ConsumerGroupAdd(GroupArgs),
    /// Delete a consumer group (`$Default` stays).
    ConsumerGroupRm(GroupArgs),
}

#[derive(Debug, Args)]
pub struct GroupArgs {
    /// The group's name: 1 to 50 letters, digits, '.', '_' or '-'.
    pub name: String,
}

pub async fn run(g: &Global, c: EventsCommand) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    match c {
        EventsCommand::Info => {
            let hub: EventHubDto = client.get("/api/events", &[]).await?;
            if g.json {
                output::json(&hub);
                return Ok(());
            }
            println!("Event Hub '{}'", hub.name);
            let rows: Vec<Vec<String>> = hub
                .partitions
                .iter()
                .map(|p| {
                    vec![
                        p.partition_id.clone(),
                        if p.is_empty {
                            "-".into()
                        } else {
                            format!("{}..{}", p.begin_sequence_number, p.last_sequence_number)
                        },
                        p.last_offset.clone(),
                        output::or_dash(&p.last_enqueued_time),
                    ]
                })
                .collect();
            output::table(
                &[
                    "PARTITION",
                    "SEQUENCE NUMBERS",
                    "LAST OFFSET",
                    "LAST ENQUEUED",
                ],
                &rows,
            );
            println!("consumer groups: {}", hub.consumer_groups.join(", "));
        }
        EventsCommand::ConsumerGroupAdd(a) => {
            client
                .call_no_answer(
                    Method::POST,
                    "/api/events/consumer-groups",
                    &serde_json::json!({ "name": a.name }),
                )
                .await?;
            if g.json {
                output::json(&serde_json::json!({ "created": a.name }));
            } else {
                println!("created consumer group '{}'", a.name);
            }
        }
        EventsCommand::ConsumerGroupRm(a) => {
            client
                .call_empty(
                    Method::DELETE,
                    &format!("/api/events/consumer-groups/{}", seg(&a.name)),
                )
                .await?;
            if g.json {
                output::json(&serde_json::json!({ "deleted": a.name }));
            } else {
                println!("deleted consumer group '{}'", a.name);
            }
        }
    }
    Ok(())
}
