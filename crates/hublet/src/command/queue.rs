use clap::Args;
use hublet_api::dto::MessageDto;

use super::Global;
use crate::client::{Client, seg};
use crate::output;

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Device id.
    pub id: String,
}

pub async fn run(g: &Global, a: QueueArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let msgs: Vec<MessageDto> = c
        .get(&format!("/api/devices/{}/messages", seg(&a.id)), &[])
        .await?;
    if g.json {
        output::json(&msgs);
        return Ok(());
    }
    if msgs.is_empty() {
        println!("the C2D queue of '{}' is empty", a.id);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = msgs
        .iter()
        .map(|m| {
            vec![
                m.sequence_number.to_string(),
                m.message_id.clone(),
                m.state.to_string(),
                m.delivery_count.to_string(),
                m.attempts.to_string(),
                m.ack.to_string(),
                m.expiry_time_utc.clone(),
                m.body_text
                    .clone()
                    .unwrap_or_else(|| format!("({} bytes, binary)", m.body_base64.len() * 3 / 4)),
            ]
        })
        .collect();
    output::table(
        &[
            "SEQ",
            "MESSAGE ID",
            "STATE",
            "DELIVERIES",
            "ATTEMPTS",
            "ACK",
            "EXPIRES",
            "BODY",
        ],
        &rows,
    );
    Ok(())
}
