//! A simulator profile from a recorded device: `hublet sim record` turns
//! what a real board (or SDK firmware) did in the trace into a profile that
//! answers the same methods with the same payloads and delays, in the same
//! order, settles C2D messages the same way, and sends similar telemetry, so
//! a bench can go on without the hardware.
//!
//! What is taken, from the device's events in the window:
//! - methods: each answer (`method.responded`) in order, as a `replies`
//!   sequence (status, payload, the measured latency as the delay); a
//!   method that never answered becomes `reply = false`;
//! - C2D: how deliveries ended (completed, rejected, abandoned, lock left
//!   to expire): the commonest way other than completing becomes the
//!   profile's action, with its share as the probability, and the delays
//!   from delivery to settlement as its delay range;
//! - telemetry: the median interval, the last message's application
//!   properties, and a body template: each numeric field drawn from the
//!   range it was seen in (`{{random(min, max)}}`), other fields as last seen;
//! - twin: the reported properties (merged), without IoT Plug and Play
//!   acknowledgements, which instead make the profile acknowledge desired
//!   properties.

use std::collections::BTreeMap;

use hublet_core::trace::TraceDetail;
use hublet_core::{BodyPreview, TraceEvent};
use serde_json::{Map, Value, json};

use crate::profile::Profile;

/// A recorded method call's answer.
#[derive(Debug, Default)]
struct MethodSeen {
    replies: Vec<Value>,
    timed_out: usize,
}

fn body(p: &BodyPreview) -> Value {
    match &p.text {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
        None => Value::Null,
    }
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    Some(xs[xs.len() / 2])
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// An IoT Plug and Play acknowledgement: `{"value": …, "ac": 200, "av": 3}`.
fn is_ack(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("value") && o.contains_key("ac"))
}

/// The profile, as TOML text, of `device` from its events (oldest first).
/// Fails when the events show nothing the device did.
pub fn profile_toml(name: &str, device: &str, events: &[TraceEvent]) -> Result<String, String> {
    let mut methods: BTreeMap<String, MethodSeen> = BTreeMap::new();
    let mut delivered_at: BTreeMap<String, i64> = BTreeMap::new();
    let mut c2d_outcomes: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut telemetry_at: Vec<i64> = Vec::new();
    let mut telemetry_bodies: Vec<Value> = Vec::new();
    let mut telemetry_props: BTreeMap<String, String> = BTreeMap::new();
    let mut reported = Map::new();
    let mut acknowledges = false;
    let mine = events
        .iter()
        .filter(|e| e.device_id.as_deref() == Some(device));
    for e in mine {
        let key = || e.message_id.clone().unwrap_or_default();
        match &e.detail {
            TraceDetail::MethodResponded(m) => {
                methods
                    .entry(m.method_name.clone())
                    .or_default()
                    .replies
                    .push(json!({
                        "status": m.status,
                        "payload": body(&m.payload),
                        "delay_secs": round3(m.latency_ms / 1000.0),
                    }));
            }
            TraceDetail::MethodTimedOut(m) => {
                methods.entry(m.method_name.clone()).or_default().timed_out += 1;
            }
            TraceDetail::C2dDelivered(_) => {
                delivered_at.entry(key()).or_insert(e.ts.0);
            }
            TraceDetail::C2dCompleted(_)
            | TraceDetail::C2dRejected(_)
            | TraceDetail::C2dAbandoned(_)
            | TraceDetail::C2dLockExpired(_) => {
                let outcome = match &e.detail {
                    TraceDetail::C2dCompleted(_) => "complete",
                    TraceDetail::C2dRejected(_) => "reject",
                    TraceDetail::C2dAbandoned(_) => "abandon",
                    _ => "withhold",
                };
                if let Some(at) = delivered_at.remove(&key()) {
                    let delay = if outcome == "withhold" {
                        0.0
                    } else {
                        (e.ts.0 - at) as f64 / 1000.0
                    };
                    c2d_outcomes.entry(outcome).or_default().push(delay);
                }
            }
            TraceDetail::TelemetryReceived(t) => {
                telemetry_at.push(e.ts.0);
                telemetry_bodies.push(body(&t.body));
                telemetry_props = t
                    .properties
                    .iter()
                    .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
                    .collect();
            }
            TraceDetail::TwinUpdated(t) => {
                if let Some(Value::Object(r)) = &t.reported {
                    for (k, v) in r {
                        if is_ack(v) {
                            acknowledges = true;
                        } else if v.is_null() {
                            reported.remove(k);
                        } else {
                            reported.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut doc = toml::Table::new();
    doc.insert("name".into(), name.into());
    doc.insert(
        "description".into(),
        format!("Recorded from device '{device}' by hublet sim record.").into(),
    );
    let mut anything = false;
    if let Some(t) = telemetry(&telemetry_at, &telemetry_bodies, &telemetry_props) {
        doc.insert("telemetry".into(), t);
        anything = true;
    }
    if let Some(c) = c2d(&c2d_outcomes) {
        doc.insert("c2d".into(), c);
        anything = true;
    }
    let mut ms = toml::Table::new();
    for (name, seen) in &methods {
        let mut m = toml::Table::new();
        if seen.replies.is_empty() {
            m.insert("reply".into(), false.into());
        } else {
            let replies: Vec<toml::Value> = seen.replies.iter().filter_map(to_toml).collect();
            m.insert("replies".into(), toml::Value::Array(replies));
        }
        ms.insert(name.clone(), toml::Value::Table(m));
        anything = true;
    }
    if !ms.is_empty() {
        doc.insert("methods".into(), toml::Value::Table(ms));
    }
    if !reported.is_empty() || acknowledges {
        let mut t = toml::Table::new();
        if let Some(r) = to_toml(&Value::Object(reported)) {
            t.insert("reported".into(), r);
        }
        t.insert(
            "desired".into(),
            if acknowledges {
                "acknowledge"
            } else {
                "ignore"
            }
            .into(),
        );
        doc.insert("twin".into(), toml::Value::Table(t));
        anything = true;
    }
    if !anything {
        return Err(format!(
            "the trace shows nothing '{device}' did in this window (no method answers, C2D settlements, telemetry or reported properties)"
        ));
    }
    let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
    // What is written must load as a profile.
    Profile::from_toml(&text, name).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Recorded from '{device}' by `hublet sim record` ({} events).\n{text}",
        events.len()
    ))
}

fn telemetry(
    at: &[i64],
    bodies: &[Value],
    props: &BTreeMap<String, String>,
) -> Option<toml::Value> {
    let last = bodies.last()?;
    let gaps: Vec<f64> = at
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / 1000.0)
        .collect();
    let interval = median(gaps).unwrap_or(10.0).max(0.1);
    let template = match last {
        Value::Object(o) => {
            let mut t = Map::new();
            for (k, v) in o {
                let nums: Vec<f64> = bodies.iter().filter_map(|b| b.get(k)?.as_f64()).collect();
                let value = match (
                    v.is_number(),
                    nums.iter().cloned().reduce(f64::min),
                    nums.iter().cloned().reduce(f64::max),
                ) {
                    (true, Some(lo), Some(hi)) if hi > lo => {
                        json!(format!("{{{{random({}, {})}}}}", round3(lo), round3(hi)))
                    }
                    _ => v.clone(),
                };
                t.insert(k.clone(), value);
            }
            Value::Object(t)
        }
        other => other.clone(),
    };
    let mut t = toml::Table::new();
    t.insert("interval_secs".into(), round3(interval).into());
    t.insert("template".into(), to_toml(&template)?);
    if !props.is_empty() {
        let p: toml::Table = props
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        t.insert("properties".into(), toml::Value::Table(p));
    }
    Some(toml::Value::Table(t))
}

fn c2d(outcomes: &BTreeMap<&'static str, Vec<f64>>) -> Option<toml::Value> {
    let total: usize = outcomes.values().map(Vec::len).sum();
    if total == 0 {
        return None;
    }
    let mut t = toml::Table::new();
    let other = outcomes
        .iter()
        .filter(|(k, _)| **k != "complete")
        .max_by_key(|(_, v)| v.len());
    let (action, delays) = match other {
        Some((k, v)) => (*k, v.clone()),
        None => (
            "complete",
            outcomes.get("complete").cloned().unwrap_or_default(),
        ),
    };
    t.insert("action".into(), action.into());
    t.insert(
        "probability".into(),
        round3(delays.len() as f64 / total as f64).into(),
    );
    let lo = delays.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = delays.iter().cloned().fold(0.0, f64::max);
    if hi > 0.0 && lo.is_finite() {
        t.insert("delay_min_secs".into(), round3(lo).into());
        t.insert("delay_max_secs".into(), round3(hi.max(lo + 0.001)).into());
    }
    Some(toml::Value::Table(t))
}

/// JSON as TOML: a null inside a table is left out (TOML has no null), one
/// in an array becomes an empty table; a top-level null gives nothing.
fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::String(s) => s.clone().into(),
        Value::Array(a) => toml::Value::Array(
            a.iter()
                .map(|x| to_toml(x).unwrap_or_else(|| toml::Value::Table(toml::Table::new())))
                .collect(),
        ),
        Value::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, x)| to_toml(x).map(|t| (k.clone(), t)))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hublet_core::Timestamp;
    use hublet_core::trace::detail::{C2dCompleted, C2dRejected, TelemetryReceived};

    fn ev(id: i64, message: Option<&str>, detail: TraceDetail) -> TraceEvent {
        TraceEvent {
            id,
            ts: Timestamp(1_000_000 + id * 1000),
            mono_us: 0,
            device_id: Some("board".into()),
            message_id: message.map(str::to_string),
            lock_token: None,
            request_id: None,
            detail,
        }
    }

    fn telemetry(id: i64, body: &str) -> TraceEvent {
        ev(
            id,
            None,
            TraceDetail::TelemetryReceived(TelemetryReceived {
                via: "mqtt".into(),
                message_id: None,
                correlation_id: None,
                content_type: None,
                content_encoding: None,
                properties: [("kind".to_string(), Some("reading".to_string()))].into(),
                size: body.len(),
                body: BodyPreview::of(body.as_bytes(), 1000),
            }),
        )
    }

    #[test]
    fn telemetry_ranges_and_the_commonest_c2d_outcome() {
        let delivered = |id, m| {
            ev(
                id,
                Some(m),
                TraceDetail::C2dDelivered(hublet_core::trace::detail::C2dDelivered {
                    sequence_number: 1,
                    attempt: 1,
                    delivery_count: 0,
                    lock_expiry: None,
                    via: "mqtt".into(),
                }),
            )
        };
        let events = vec![
            telemetry(1, r#"{"t": 20.5, "unit": "C"}"#),
            telemetry(3, r#"{"t": 22, "unit": "C"}"#),
            telemetry(5, r#"{"t": 21, "unit": "C"}"#),
            delivered(6, "m1"),
            ev(
                7,
                Some("m1"),
                TraceDetail::C2dRejected(C2dRejected { sequence_number: 1 }),
            ),
            delivered(8, "m2"),
            ev(
                9,
                Some("m2"),
                TraceDetail::C2dCompleted(C2dCompleted {
                    sequence_number: 2,
                    attempt: 1,
                }),
            ),
        ];
        let text = profile_toml("board-replay", "board", &events).expect("a profile");
        let p = Profile::from_toml(&text, "x").expect("it loads");
        let t = p.telemetry.expect("telemetry");
        assert_eq!(t.interval_secs, 2.0);
        assert_eq!(t.template["t"], json!("{{random(20.5, 22)}}"));
        assert_eq!(t.template["unit"], json!("C"));
        assert_eq!(
            t.properties.get("kind").map(String::as_str),
            Some("reading")
        );
        assert_eq!(p.c2d.action, crate::profile::C2dAction::Reject);
        assert_eq!(p.c2d.probability, 0.5);
        assert!(profile_toml("x", "someone-else", &events).is_err());
    }
}
