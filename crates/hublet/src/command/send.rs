use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;
use hublet_api::dto::{FeedbackRecordDto, MessageDto, SendMessageRequest};
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError, seg};
use crate::exit::codes;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Target device.
    pub id: String,
    /// The body (text, or hex/base64 with --body-encoding); `@FILE` reads it
    /// from a file (any bytes), `-` from standard input.
    pub body: String,
    /// Application property (repeatable).
    #[arg(long = "prop", value_name = "K=V")]
    pub props: Vec<String>,
    /// Time to live in seconds (default: the hub's, 1 hour).
    #[arg(long, value_name = "SECS")]
    pub ttl: Option<u64>,
    /// Feedback wanted.
    #[arg(
        long,
        value_name = "none|positive|negative|full",
        default_value = "none"
    )]
    pub ack: String,
    /// Message id (generated when absent).
    #[arg(long)]
    pub message_id: Option<String>,
    /// Correlation id.
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// User id.
    #[arg(long)]
    pub user_id: Option<String>,
    /// Content type, e.g. application/json.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Content encoding, e.g. utf-8.
    #[arg(long)]
    pub content_encoding: Option<String>,
    /// How BODY is written.
    #[arg(long, value_name = "text|hex|base64", default_value = "text")]
    pub body_encoding: String,
    /// Wait (up to SECS, default 60) for the message's feedback record and
    /// print it; exits 8 on a negative outcome, 4 if none came in time.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "60")]
    pub wait_feedback: Option<u64>,
}

pub async fn run(g: &Global, a: SendArgs) -> anyhow::Result<()> {
    let mut properties = BTreeMap::new();
    for p in &a.props {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            ClientError::Exit(codes::BAD_INPUT, format!("--prop '{p}' is not K=V"))
        })?;
        properties.insert(k.to_string(), v.to_string());
    }
    if a.wait_feedback.is_some() && a.ack == "none" {
        return Err(ClientError::Exit(
            codes::BAD_INPUT,
            "--wait-feedback needs --ack positive, negative or full".into(),
        )
        .into());
    }
    // A body from a file or standard input may be any bytes: one that is
    // not text travels as base64.
    let raw = crate::input::bytes(&a.body, "the body")?;
    let (body, body_encoding) = match String::from_utf8(raw) {
        Ok(t) => (t, a.body_encoding),
        Err(e) if a.body_encoding == "text" => {
            use base64::Engine;
            (
                base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
                "base64".to_string(),
            )
        }
        Err(_) => {
            return Err(ClientError::Exit(
                codes::BAD_INPUT,
                format!("the body is not text, so it cannot be {}", a.body_encoding),
            )
            .into());
        }
    };
    let c = Client::connect(g)?;
    let req = SendMessageRequest {
        body,
        body_encoding: Some(body_encoding),
        message_id: a.message_id,
        correlation_id: a.correlation_id,
        user_id: a.user_id,
        content_type: a.content_type,
        content_encoding: a.content_encoding,
        ttl_seconds: a.ttl,
        expiry_time_utc: None,
        ack: Some(a.ack),
        properties,
    };
    let m: MessageDto = c
        .call(
            Method::POST,
            &format!("/api/devices/{}/messages", seg(&a.id)),
            &req,
        )
        .await?;
    let Some(wait) = a.wait_feedback else {
        if g.json {
            crate::output::json(&m);
        } else {
            println!(
                "queued message '{}' for '{}' (sequence {}, expires {})",
                m.message_id, m.device_id, m.sequence_number, m.expiry_time_utc
            );
        }
        return Ok(());
    };
    if !g.json {
        println!(
            "queued message '{}' for '{}'; waiting up to {wait} s for its feedback…",
            m.message_id, m.device_id
        );
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let records: Vec<FeedbackRecordDto> = c
            .get(
                "/api/feedback",
                &[
                    ("messageId", m.message_id.clone()),
                    ("deviceId", m.device_id.clone()),
                ],
            )
            .await?;
        if let Some(r) = records.into_iter().next() {
            if g.json {
                crate::output::json(&serde_json::json!({"message": m, "feedback": r}));
            } else {
                println!(
                    "feedback: {} ({}) at {}",
                    r.status_code, r.description, r.enqueued_time_utc
                );
            }
            if r.status_code != hublet_core::FeedbackStatus::Success {
                return Err(ClientError::Reported(
                    codes::NEGATIVE_FEEDBACK,
                    format!("message '{}' ended {}", m.message_id, r.status_code),
                )
                .into());
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClientError::Exit(
                codes::TIMEOUT,
                format!("no feedback for message '{}' within {wait} s", m.message_id),
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
