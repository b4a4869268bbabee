//! One line of words per event, for the Rust readers of the trace (the
//! CLI's `trace` and serial console, desktop notifications). The UI has its
//! own, richer rendering of the same types (`ui/src/lib/logic/traceView.ts`).
//!
//! The match is exhaustive: a new kind does not compile until it says
//! something here.

use super::detail::{BodyPreview, SimActionKind, TraceDetail};

/// A body preview in one line: its text (line breaks folded) or its base64.
pub fn preview_line(p: &BodyPreview) -> String {
    let more = if p.truncated { "…" } else { "" };
    match (&p.text, &p.base64) {
        (Some(t), _) => {
            let folded: Vec<&str> = t.split(['\r', '\n']).filter(|s| !s.is_empty()).collect();
            format!("{}{more}", folded.join(" "))
        }
        (None, Some(b)) => format!("[base64] {b}{more}"),
        (None, None) => String::new(),
    }
}

fn opt(label: &str, v: &Option<String>) -> String {
    v.as_deref()
        .map(|v| format!(" {label} {v}"))
        .unwrap_or_default()
}

impl TraceDetail {
    /// What the event says, in a few words.
    pub fn summary(&self) -> String {
        use TraceDetail as T;
        match self {
            T::DeviceCreated(d) => format!("registered ({}, {})", d.kind, d.status),
            T::DeviceDeleted(d) => format!(
                "deleted ({} queued messages and {} pending feedback records dropped)",
                d.dropped_messages, d.dropped_feedback_records
            ),
            T::DeviceEnabled(_) => "enabled".into(),
            T::DeviceDisabled(d) => format!("disabled{}", opt(":", &d.status_reason)),
            T::DeviceUpdated(d) => {
                if d.keys_changed {
                    "keys changed".into()
                } else {
                    "updated".into()
                }
            }
            T::DeviceAttached(d) => format!(
                "connected over {}{}{}",
                d.via,
                opt("from", &d.remote),
                if d.replaced_earlier_connection {
                    " (replacing an earlier connection)"
                } else {
                    ""
                }
            ),
            T::DeviceDetached(d) => format!(
                "disconnected from {}: {}{}",
                d.via,
                d.description,
                if d.locks_released > 0 {
                    format!(" ({} locked messages back in the queue)", d.locks_released)
                } else {
                    String::new()
                }
            ),
            T::DeviceAuthFailed(d) => format!("refused over {} ({}): {}", d.via, d.code, d.reason),
            T::DeviceProtocol(d) => match d.code {
                Some(c) => format!("{} ({c}) over {}", d.what, d.via),
                None => format!("{} (over {})", d.what, d.via),
            },
            T::C2dEnqueued(d) => format!(
                "enqueued #{} (ack {}{}) {}",
                d.sequence_number,
                d.ack.as_str(),
                opt(", via", &d.via),
                preview_line(&d.body)
            ),
            T::C2dDelivered(d) => format!(
                "delivered over {}, attempt {} (delivery count {})",
                d.via, d.attempt, d.delivery_count
            ),
            T::C2dCompleted(d) => format!("completed (attempt {})", d.attempt),
            T::C2dAbandoned(d) => format!(
                "abandoned (delivery count {} of {})",
                d.delivery_count, d.max_delivery_count
            ),
            T::C2dRejected(_) => "rejected by the device".into(),
            T::C2dLockExpired(d) => format!(
                "lock of attempt {} expired without an answer; back in the queue",
                d.attempt
            ),
            T::C2dLockReleased(d) => format!(
                "lock of attempt {} released (the device went away); back in the queue",
                d.attempt
            ),
            T::C2dExpired(d) => format!("expired at {}", d.expiry_time_utc.to_rfc3339()),
            T::C2dDeadLettered(d) => format!("dead-lettered: {}", d.reason),
            T::C2dPurged(d) => format!("purged ({})", d.state),
            T::FeedbackProduced(d) => format!("feedback {} ({})", d.status_code, d.description),
            T::FeedbackBatched(d) => format!(
                "feedback message {} sealed with {} records",
                d.batch_id, d.records
            ),
            T::FeedbackReceived(d) => format!(
                "feedback message {} ({} records) received{}",
                d.batch_id,
                d.records,
                opt("via", &d.via)
            ),
            T::FeedbackCompleted(d) => format!("feedback message {} completed", d.batch_id),
            T::FeedbackAbandoned(d) => format!(
                "feedback message {} abandoned (delivery count {})",
                d.batch_id, d.delivery_count
            ),
            T::FeedbackDropped(d) => format!(
                "feedback message {} ({} records) dropped: {}",
                d.batch_id,
                d.records,
                match d.reason {
                    super::detail::FeedbackDropReason::Expired => "expired unread",
                    super::detail::FeedbackDropReason::DeliveryCountExceeded =>
                        "abandoned too often",
                    super::detail::FeedbackDropReason::Rejected => "rejected by its receiver",
                }
            ),
            T::MethodInvoked(d) => {
                format!("invoked {} {}", d.method_name, preview_line(&d.payload))
            }
            T::MethodDelivered(d) => format!("{} delivered to the device", d.method_name),
            T::MethodResponded(d) => format!(
                "{} answered {} in {:.1} ms {}",
                d.method_name,
                d.status,
                d.latency_ms,
                preview_line(&d.payload)
            ),
            T::MethodTimedOut(d) => format!(
                "{} timed out ({}) after {} s",
                d.method_name, d.code, d.response_timeout_in_seconds
            ),
            T::MethodFailed(d) => format!("{} failed ({}): {}", d.method_name, d.code, d.error),
            T::MethodLateResponse(d) => format!(
                "late answer {} ignored {}",
                d.status,
                preview_line(&d.payload)
            ),
            T::TelemetryReceived(d) => format!("over {}: {}", d.via, preview_line(&d.body)),
            T::SerialLine(d) => {
                let mut s = format!("< {}", console_text(&d.text, &d.hex));
                if d.partial {
                    s.push_str(" ⏎?");
                }
                if let Some(w) = &d.warning {
                    s.push_str(&format!("   (warning: {w})"));
                }
                s
            }
            T::SerialSent(d) => format!("> {}", console_text(&d.text, &d.hex)),
            T::SerialPort(d) => {
                use super::detail::SerialPortChange as C;
                let mut s = match d.event {
                    C::Opened => "board's port opened",
                    C::Reappeared => "board is back",
                    C::Disappeared => "board unplugged",
                    C::Released => "board's port released",
                    C::Dropped => "board's port let go by the hub",
                    C::OpenFailed => "board's port cannot be opened",
                    C::Reset => "board reset",
                    C::Hello => "board said HELLO",
                }
                .to_string();
                for part in [&d.path, &d.firmware, &d.error, &d.reason]
                    .into_iter()
                    .flatten()
                {
                    s.push(' ');
                    s.push_str(part);
                }
                s
            }
            T::SimAction(d) => {
                let what = match &d.action {
                    SimActionKind::Offline { for_secs } => {
                        format!("went offline for {for_secs} s")
                    }
                    SimActionKind::Reconnect {
                        after,
                        backoff_secs,
                    } => format!("reconnects in {backoff_secs} s after: {after}"),
                    SimActionKind::LinkDropped { .. } => "dropped its link".into(),
                    SimActionKind::WithholdAck { message_id, .. } => {
                        format!("withheld the PUBACK of {message_id}")
                    }
                    SimActionKind::Reject { message_id } => format!("rejected {message_id}"),
                    SimActionKind::Abandon { message_id } => format!("abandoned {message_id}"),
                    SimActionKind::SettleFailed { message_id, action } => {
                        format!("could not {action} {message_id}")
                    }
                    SimActionKind::IgnoreMethod { method, .. } => format!("ignored {method}"),
                    SimActionKind::FailMethod { method, .. } => format!("failed {method}"),
                    SimActionKind::Fault { fault, for_secs } => match for_secs {
                        Some(s) => format!("fault injected: {fault} for {s} s"),
                        None => format!("fault injected: {fault}"),
                    },
                };
                format!("{what} ({})", d.profile)
            }
            T::SettingsChanged(d) => {
                let names: Vec<&str> = d.changes.keys().map(String::as_str).collect();
                format!("settings changed: {}", names.join(", "))
            }
            T::ServiceConnected(d) => format!(
                "back end connected over {} from {}{}",
                d.via,
                d.remote,
                d.mechanism
                    .as_deref()
                    .map(|m| format!(" (SASL {m})"))
                    .unwrap_or_default()
            ),
            T::ServiceAuthorized(d) => format!(
                "back end authorized as {} until {}",
                d.policy,
                d.expiry.to_rfc3339()
            ),
            T::ServiceAuthFailed(d) => {
                format!(
                    "back end refused ({} from {}): {}",
                    d.code, d.remote, d.reason
                )
            }
            T::ServiceLinkAttached(d) => format!(
                "back end attached {} ({})",
                d.address,
                direction(d.direction)
            ),
            T::ServiceLinkDetached(d) => format!(
                "back end link {} ended{}",
                d.address,
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            T::ServiceDisconnected(d) => format!(
                "back end from {} disconnected{}",
                d.remote,
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            T::TwinUpdated(d) => {
                let part = |name: &str, v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map(|v| format!(" {name} {v}"))
                        .unwrap_or_default()
                };
                match d.by {
                    crate::twin::TwinAuthor::Device => format!(
                        "reported properties v{}:{}",
                        d.reported_version,
                        part("", &d.reported)
                    ),
                    crate::twin::TwinAuthor::Service => format!(
                        "twin {} by a back end (desired v{}):{}{}",
                        match d.op {
                            crate::twin::TwinOp::Patch => "updated",
                            crate::twin::TwinOp::Replace => "replaced",
                        },
                        d.desired_version,
                        part("desired", &d.desired),
                        part("tags", &d.tags)
                    ),
                }
            }
            T::ModuleCreated(d) => format!(
                "module '{}' created{}",
                d.module_id,
                d.managed_by
                    .as_deref()
                    .map(|m| format!(" (managed by {m})"))
                    .unwrap_or_default()
            ),
            T::ModuleUpdated(d) => format!(
                "module '{}' updated{}",
                d.module_id,
                if d.keys_changed { ": new keys" } else { "" }
            ),
            T::ModuleDeleted(d) => format!("module '{}' deleted with its twin", d.module_id),
            T::Unknown(u) => format!("(not understood by this Hublet) {}", u.raw),
        }
    }
}

fn direction(d: super::detail::LinkDirection) -> &'static str {
    match d {
        super::detail::LinkDirection::ToHub => "to the hub",
        super::detail::LinkDirection::FromHub => "from the hub",
    }
}

/// A console line as shown: without its line ending, control characters
/// other than tab as `�`; bytes that are not text already appear as `\xNN`.
fn console_text(text: &Option<String>, hex: &Option<String>) -> String {
    match (text, hex) {
        (Some(t), _) => t
            .trim_end_matches(['\r', '\n'])
            .replace(|c: char| c.is_control() && c != '\t', "�"),
        (None, Some(h)) => format!("[hex] {h}"),
        (None, None) => String::new(),
    }
}
