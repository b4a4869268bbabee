//! `hublet sim …`: simulated devices.

use std::path::Path;

use clap::{Args, Subcommand};
use hublet_api::dto::{
    FleetRequestDto, FleetStartedDto, ProfileDto, SaveProfileRequest, SimStatusDto,
};
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError, seg};
use crate::exit::codes;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Start simulated devices running a profile (a name, or a .toml file).
    Run(RunArgs),
    /// List running simulated devices.
    List,
    /// Stop one simulated device, or all of them.
    Stop(StopArgs),
    /// List the profiles (shipped and yours).
    Profiles,
    /// Turn a recorded device (a real board, SDK firmware) into a profile
    /// that answers its methods with the same payloads and delays, settles
    /// C2D the same way and sends similar telemetry.
    Record(RecordArgs),
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The device whose trace is recorded.
    pub device: String,
    /// From this time (RFC 3339, or an age: 10m, 2h); default: the whole trace.
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Up to this time (RFC 3339, or an age).
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// The profile's name (default: the device id made safe, with `-replay`).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the profile here (`-`: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub out: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A profile name (see `hublet sim profiles`) or a path to a TOML profile.
    pub profile: String,
    /// How many devices.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Device ids are PREFIX-1, PREFIX-2, … (default: the profile's name).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Seed for the devices' random choices (the same seed repeats a run).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Start them again whenever the hub restarts.
    #[arg(long)]
    pub persist: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The device to stop.
    pub id: Option<String>,
    /// Stop every simulated device.
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
}

pub async fn run(g: &Global, c: SimCommand) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    match c {
        SimCommand::Record(a) => record(g, &client, a).await?,
        SimCommand::Run(a) => {
            let name = if Path::new(&a.profile).is_file() {
                let text = std::fs::read_to_string(&a.profile)?;
                // Read by the simulator's own parser: the name, and a clear
                // error for a file it would refuse, before anything is sent.
                let name = hublet_sim::Profile::from_toml(&text, &a.profile)
                    .map_err(|e| {
                        ClientError::Exit(codes::BAD_INPUT, format!("{}: {e}", a.profile))
                    })?
                    .name;
                let _: ProfileDto = client
                    .call(
                        Method::PUT,
                        &format!("/api/sim/profiles/{}", seg(&name)),
                        &SaveProfileRequest { toml: text },
                    )
                    .await?;
                name
            } else {
                a.profile
            };
            let req = FleetRequestDto {
                profile: name.clone(),
                count: Some(a.count),
                prefix: a.prefix,
                seed: a.seed,
                persist: a.persist,
                ids: Vec::new(),
            };
            let started: FleetStartedDto =
                client.call(Method::POST, "/api/sim/fleets", &req).await?;
            if g.json {
                output::json(&started);
            } else {
                let ids = &started.device_ids;
                let shown = if ids.len() > 4 {
                    format!("{} … {}", ids[..2].join(", "), ids[ids.len() - 1])
                } else {
                    ids.join(", ")
                };
                println!(
                    "started {} simulated device(s) running '{name}': {shown}",
                    ids.len()
                );
            }
        }
        SimCommand::List => {
            let list: Vec<SimStatusDto> = client.get("/api/sim/devices", &[]).await?;
            if g.json {
                output::json(&list);
            } else if list.is_empty() {
                println!(
                    "no simulated devices — start some with: hublet sim run thermostat --count 3"
                );
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.device_id.clone(),
                            s.profile.clone(),
                            s.state.clone(),
                            format!("{}/{}", s.c2d_completed, s.c2d_received),
                            s.methods_answered.to_string(),
                            s.telemetry_sent.to_string(),
                            s.drops.to_string(),
                            if s.persist { "yes".into() } else { "no".into() },
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "DEVICE",
                        "PROFILE",
                        "STATE",
                        "C2D DONE/RECEIVED",
                        "METHODS",
                        "TELEMETRY",
                        "DROPS",
                        "PERSIST",
                    ],
                    &rows,
                );
            }
        }
        SimCommand::Stop(a) => {
            if a.all {
                let r: serde_json::Value = client.delete_json("/api/sim/devices").await?;
                if g.json {
                    output::json(&r);
                } else {
                    println!("stopped {} simulated device(s)", r["stopped"]);
                }
            } else {
                let id = a.id.ok_or_else(|| {
                    ClientError::Exit(codes::BAD_INPUT, "give a device id or --all".into())
                })?;
                client
                    .call_empty(Method::DELETE, &format!("/api/sim/devices/{}", seg(&id)))
                    .await?;
                if g.json {
                    output::json(&serde_json::json!({"stopped": 1, "deviceIds": [id]}));
                } else {
                    println!("stopped simulated device '{id}' (it stays registered)");
                }
            }
        }
        SimCommand::Profiles => {
            let list: Vec<ProfileDto> = client.get("/api/sim/profiles", &[]).await?;
            if g.json {
                output::json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            if p.builtin { "shipped" } else { "yours" }.into(),
                            p.description.clone(),
                        ]
                    })
                    .collect();
                output::table(&["PROFILE", "FROM", "DESCRIPTION"], &rows);
            }
        }
    }
    Ok(())
}

async fn record(g: &Global, client: &Client, a: RecordArgs) -> anyhow::Result<()> {
    let mut q = vec![("deviceId", a.device.clone())];
    if let Some(f) = &a.from {
        q.push(("since", super::trace::since(f)?));
    }
    if let Some(t) = &a.to {
        q.push(("until", super::trace::since(t)?));
    }
    let events = super::trace::fetch_all(client, &q, 0).await?;
    let name = a.name.unwrap_or_else(|| {
        let safe: String = a
            .device
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{safe}-replay")
    });
    let text = hublet_sim::record::profile_toml(&name, &a.device, &events)
        .map_err(|e| ClientError::Exit(codes::NOT_FOUND, e))?;
    if a.out == "-" {
        print!("{text}");
    } else {
        std::fs::write(&a.out, &text).map_err(|e| {
            ClientError::Exit(codes::FAILURE, format!("cannot write {}: {e}", a.out))
        })?;
        if g.json {
            output::json(
                &serde_json::json!({"profile": name, "file": a.out, "events": events.len()}),
            );
        } else {
            println!(
                "wrote profile '{name}' to {} from {} events of '{}' (run it: hublet sim run {})",
                a.out,
                events.len(),
                a.device,
                a.out
            );
        }
    }
    Ok(())
}
