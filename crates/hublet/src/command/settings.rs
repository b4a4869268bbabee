//! `hublet settings [show]` / `hublet settings set NAME VALUE`: the hub's
//! settings (stored in its data directory; the ranges are the hub's, see
//! `GET /api/rules`). E.g. `hublet settings set openBench false` turns the
//! open bench off again.

use clap::{Args, Subcommand};
use hublet_api::dto::SettingsDto;
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting.
    Show,
    /// Change one setting, by its name as `show` prints it.
    Set(SetArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The setting, e.g. queueCap, openBench, hostAliases.
    pub name: String,
    /// Its new value: a number, true/false, text, or JSON (a list: '["a","b"]').
    pub value: String,
}

pub async fn run(g: &Global, c: Option<SettingsCommand>) -> anyhow::Result<()> {
    let client = Client::connect(g)?;
    let current: serde_json::Value = client.get("/api/settings", &[]).await?;
    let shown = match c.unwrap_or(SettingsCommand::Show) {
        SettingsCommand::Show => current,
        SettingsCommand::Set(a) => {
            let mut map = current.as_object().cloned().unwrap_or_default();
            if !map.contains_key(&a.name) {
                let names: Vec<&String> = map.keys().collect();
                return Err(ClientError::Exit(
                    codes::BAD_INPUT,
                    format!(
                        "no setting '{}'; the settings are: {}",
                        a.name,
                        names
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .into());
            }
            let value = serde_json::from_str(&a.value)
                .unwrap_or_else(|_| serde_json::Value::String(a.value.clone()));
            map.insert(a.name.clone(), value);
            let req: SettingsDto = serde_json::from_value(serde_json::Value::Object(map))
                .map_err(|e| ClientError::Exit(codes::BAD_INPUT, format!("{}: {e}", a.name)))?;
            let saved: SettingsDto = client.call(Method::PUT, "/api/settings", &req).await?;
            serde_json::to_value(saved)?
        }
    };
    if g.json {
        crate::output::json(&shown);
    } else if let Some(m) = shown.as_object() {
        for (k, v) in m {
            println!("{k:<28} {v}");
        }
    }
    Ok(())
}
