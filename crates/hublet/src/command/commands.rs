//! `hublet commands` and `hublet run`: the hub's command library (saved
//! method calls and C2D messages, `commands.toml` in the data directory),
//! shared with the app and scenario steps.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use hublet_api::dto::{MessageDto, MethodResultDto};
use hublet_scenario::format::Step;
use hublet_scenario::library::{Action, Command};
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError, seg};
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum CommandsCommand {
    /// The saved commands.
    List,
    /// One command as TOML.
    Show {
        /// Its name.
        name: String,
    },
    /// The whole library as a TOML file (to share it).
    Export {
        /// Write it here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        out: Option<String>,
    },
    /// Add the commands of a TOML file (an export) to the library, replacing
    /// those of the same name.
    Import {
        /// The file (`-`: standard input).
        file: String,
        /// Replace the whole library instead.
        #[arg(long)]
        replace: bool,
    },
    /// Delete a command.
    Rm {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The command's name (`hublet commands list`).
    pub name: String,
    /// The device to run it on.
    #[arg(long)]
    pub device: String,
    /// A value for one of the command's `{{var}}`s (repeatable; read as JSON
    /// when it parses, else as text).
    #[arg(long = "set", value_name = "K=V")]
    pub set: Vec<String>,
    /// Succeed whatever status the device answers a method with.
    #[arg(long)]
    pub any_status: bool,
}

async fn library(c: &Client) -> anyhow::Result<Vec<Command>> {
    c.get("/api/commands", &[]).await
}

pub async fn list(g: &Global, cmd: CommandsCommand) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    match cmd {
        CommandsCommand::List => {
            let all = library(&c).await?;
            if g.json {
                crate::output::json(&all);
            } else if all.is_empty() {
                println!(
                    "no saved commands yet (save one in the app, or hublet commands import FILE)"
                );
            } else {
                for x in &all {
                    let what = match &x.action {
                        Action::Method { method, .. } => format!("method {method}"),
                        Action::C2d { ack, .. } => {
                            format!("C2D message (ack {})", ack.as_deref().unwrap_or("none"))
                        }
                    };
                    let vars: Vec<&str> = x.vars.keys().map(String::as_str).collect();
                    println!(
                        "{:<24} {what}{}{}",
                        x.name,
                        if vars.is_empty() {
                            String::new()
                        } else {
                            format!("  vars: {}", vars.join(", "))
                        },
                        x.description
                            .as_ref()
                            .map(|d| format!("  — {d}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        CommandsCommand::Show { name } => {
            let all = library(&c).await?;
            let x = all.into_iter().find(|x| x.name == name).ok_or_else(|| {
                ClientError::Exit(
                    codes::NOT_FOUND,
                    format!("no command '{name}' in the library"),
                )
            })?;
            if g.json {
                crate::output::json(&x);
            } else {
                let one = hublet_scenario::library::Library {
                    version: 1,
                    commands: vec![x],
                };
                print!(
                    "{}",
                    one.to_toml()
                        .map_err(|e| ClientError::Exit(codes::FAILURE, e.0))?
                );
            }
        }
        CommandsCommand::Export { out } => {
            let text = c.get_raw("/api/commands/export", &[]).await?.text().await?;
            match out {
                Some(f) => std::fs::write(&f, text).map_err(|e| {
                    ClientError::Exit(codes::FAILURE, format!("cannot write {f}: {e}"))
                })?,
                None => print!("{text}"),
            }
        }
        CommandsCommand::Import { file, replace } => {
            let text = crate::input::text(
                &if file == "-" {
                    file.clone()
                } else {
                    format!("@{file}")
                },
                "the library",
            )?;
            let rb = c
                .request(Method::POST, "/api/commands/import")
                .query(&[("replace", replace.to_string())])
                .header(reqwest::header::CONTENT_TYPE, "application/toml")
                .body(text);
            let all: Vec<Command> = c.send(rb).await?.json().await?;
            if g.json {
                crate::output::json(&all);
            } else {
                println!("the library has {} command(s)", all.len());
            }
        }
        CommandsCommand::Rm { name } => {
            c.call_empty(Method::DELETE, &format!("/api/commands/{}", seg(&name)))
                .await?;
            if !g.json {
                println!("deleted command '{name}'");
            }
        }
    }
    Ok(())
}

pub async fn run(g: &Global, a: RunArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let mut vars = BTreeMap::new();
    for kv in &a.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            ClientError::Exit(codes::BAD_INPUT, format!("--set '{kv}' is not K=V"))
        })?;
        vars.insert(
            k.to_string(),
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::json!(v)),
        );
    }
    let all = library(&c).await?;
    let command = all.iter().find(|x| x.name == a.name).ok_or_else(|| {
        ClientError::Exit(
            codes::NOT_FOUND,
            format!(
                "no command '{}' in the library (hublet commands list)",
                a.name
            ),
        )
    })?;
    let step = command.to_step(&a.device, &vars).map_err(|e| {
        ClientError::Exit(codes::BAD_INPUT, format!("{e} (give it with --set K=V)"))
    })?;
    match step {
        Step::Invoke(i) => {
            let req = serde_json::json!({
                "methodName": i.method,
                "payload": i.payload,
                "connectTimeoutInSeconds": i.connect_timeout,
                "responseTimeoutInSeconds": i.response_timeout,
            });
            let r: MethodResultDto = c
                .call(
                    Method::POST,
                    &format!("/api/devices/{}/methods", seg(&a.device)),
                    &req,
                )
                .await?;
            super::invoke::report(g, &r, &a.device, &i.method, a.any_status)?;
        }
        Step::Send(s) => {
            let req = s.request_json();
            let m: MessageDto = c
                .call(
                    Method::POST,
                    &format!("/api/devices/{}/messages", seg(&a.device)),
                    &req,
                )
                .await?;
            if g.json {
                crate::output::json(&m);
            } else {
                println!(
                    "queued message '{}' for '{}' (sequence {})",
                    m.message_id, m.device_id, m.sequence_number
                );
            }
        }
        _ => {}
    }
    Ok(())
}
