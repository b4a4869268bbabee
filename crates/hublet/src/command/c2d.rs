//! `hublet c2d receive|complete|reject|abandon`: the device's side of C2D
//! over IoT Hub's HTTP device endpoints (as `az iot device c2d-message`
//! does), signed with the device's own SAS token, so a message can be
//! received and settled without firmware.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use hublet_api::dto::SasTokenDto;
use reqwest::Method;
use serde::Serialize;

use super::Global;
use crate::client::{Client, ClientError, seg};
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum C2dCommand {
    /// Receive (and lock) the next message of a device's queue; prints
    /// nothing (`null` with --json) when the queue has none.
    Receive(ReceiveArgs),
    /// Complete a received message by its lock token.
    Complete(SettleArgs),
    /// Reject a received message (dead-lettered; negative feedback).
    Reject(SettleArgs),
    /// Abandon a received message (back to the queue, delivery count + 1).
    Abandon(SettleArgs),
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// The device.
    pub id: String,
    /// Settle it at once: complete, reject or abandon.
    #[arg(long, value_name = "complete|reject|abandon")]
    pub settle: Option<String>,
}

#[derive(Debug, Args)]
pub struct SettleArgs {
    /// The device.
    pub id: String,
    /// The lock token (the ETag `receive` printed).
    pub lock_token: String,
}

/// A received message as printed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Received {
    lock_token: String,
    message_id: Option<String>,
    correlation_id: Option<String>,
    sequence_number: Option<String>,
    delivery_count: Option<String>,
    expiry_time_utc: Option<String>,
    ack: Option<String>,
    content_type: Option<String>,
    properties: BTreeMap<String, String>,
    body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    settled: Option<String>,
}

/// The device's token, made by the hub from its primary key.
async fn token(c: &Client, id: &str) -> anyhow::Result<String> {
    let t: SasTokenDto = c
        .get(
            &format!("/api/devices/{}/sas-token", seg(id)),
            &[("ttlSecs", "600".into())],
        )
        .await?;
    Ok(t.token)
}

fn path(id: &str) -> String {
    format!("/devices/{}/messages/devicebound", seg(id))
}

async fn settle(c: &Client, id: &str, sas: &str, lock: &str, how: &str) -> anyhow::Result<()> {
    let lock_seg = seg(lock.trim_matches('"'));
    let (method, p) = match how {
        "complete" => (Method::DELETE, format!("{}/{lock_seg}", path(id))),
        "reject" => (Method::DELETE, format!("{}/{lock_seg}?reject", path(id))),
        "abandon" => (Method::POST, format!("{}/{lock_seg}/abandon", path(id))),
        other => {
            return Err(ClientError::Exit(
                codes::BAD_INPUT,
                format!("--settle '{other}' is not complete, reject or abandon"),
            )
            .into());
        }
    };
    c.device_call(method, &p, sas).await?;
    Ok(())
}

pub async fn run(g: &Global, cmd: C2dCommand) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    match cmd {
        C2dCommand::Receive(a) => {
            let sas = token(&c, &a.id).await?;
            let resp = c.device_call(Method::GET, &path(&a.id), &sas).await?;
            if resp.status() == reqwest::StatusCode::NO_CONTENT {
                if g.json {
                    crate::output::json(&serde_json::Value::Null);
                } else {
                    eprintln!("no message waiting for '{}'", a.id);
                }
                return Ok(());
            }
            let h = resp.headers().clone();
            let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
            let properties = h
                .iter()
                .filter_map(|(k, v)| {
                    let name = k.as_str().strip_prefix("iothub-app-")?;
                    Some((name.to_string(), v.to_str().ok()?.to_string()))
                })
                .collect();
            let lock_token = get("etag")
                .unwrap_or_default()
                .trim_matches('"')
                .to_string();
            let body = resp.bytes().await?;
            let mut m = Received {
                lock_token,
                message_id: get("iothub-messageid"),
                correlation_id: get("iothub-correlationid").filter(|s| !s.is_empty()),
                sequence_number: get("iothub-sequencenumber"),
                delivery_count: get("iothub-deliverycount"),
                expiry_time_utc: get("iothub-expiry").filter(|s| !s.is_empty()),
                ack: get("iothub-ack"),
                content_type: get("contenttype"),
                properties,
                body: String::from_utf8_lossy(&body).into_owned(),
                settled: None,
            };
            if let Some(how) = &a.settle {
                settle(&c, &a.id, &sas, &m.lock_token, how).await?;
                m.settled = Some(how.clone());
            }
            if g.json {
                crate::output::json(&m);
            } else {
                println!(
                    "message {} (lock {}, delivery count {})",
                    m.message_id.as_deref().unwrap_or("?"),
                    m.lock_token,
                    m.delivery_count.as_deref().unwrap_or("?")
                );
                for (k, v) in &m.properties {
                    println!("  {k}={v}");
                }
                println!("{}", m.body);
                if let Some(s) = &m.settled {
                    println!("({s}d)");
                }
            }
        }
        C2dCommand::Complete(a) => settle_verb(g, &c, a, "complete").await?,
        C2dCommand::Reject(a) => settle_verb(g, &c, a, "reject").await?,
        C2dCommand::Abandon(a) => settle_verb(g, &c, a, "abandon").await?,
    }
    Ok(())
}

async fn settle_verb(g: &Global, c: &Client, a: SettleArgs, how: &str) -> anyhow::Result<()> {
    let sas = token(c, &a.id).await?;
    settle(c, &a.id, &sas, &a.lock_token, how).await?;
    if g.json {
        crate::output::json(
            &serde_json::json!({"deviceId": a.id, "lockToken": a.lock_token, "settled": how}),
        );
    } else {
        println!("{how}d message with lock {} of '{}'", a.lock_token, a.id);
    }
    Ok(())
}
