//! Two traces compared step by step: what a board did in one run against
//! another (a firmware update, a replayed simulator profile, yesterday's
//! run). `hublet trace diff` prints it.
//!
//! Each trace is read as a list of *interactions*: a direct-method call
//! (its outcome, payload and latency), a C2D message (how it ended, its
//! deliveries, its feedback, the time to settle), and each device's
//! telemetry (the fields its messages carry, how many). Ids differ between
//! runs, so interactions are paired by their device's order of appearance,
//! their kind and name, and their position: the second `getTemperature` of
//! the first device in A against the same in B. Times may differ within a
//! tolerance, numbers within another.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use super::{BodyPreview, TraceDetail, TraceEvent, TraceQuery};
use crate::error::{HubError, HubResult};

/// How far two runs may differ and still be the same.
#[derive(Debug, Clone, Copy)]
pub struct DiffOptions {
    /// Latencies and settle times may differ by this many milliseconds.
    pub time_ms: f64,
    /// Numbers in payloads may differ by this much (absolute).
    pub value: f64,
    /// Telemetry counts may differ by this share of the larger (0.2 = 20 %).
    pub count_share: f64,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            time_ms: 100.0,
            value: 0.0,
            count_share: 0.2,
        }
    }
}

/// One paired interaction.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DiffLine {
    /// What: `method getTemperature #2`, `c2d #1`, `telemetry`.
    pub what: String,
    /// The device in A and in B.
    pub devices: (Option<String>, Option<String>),
    /// A's side in a few words (absent: A has no such interaction).
    pub a: Option<String>,
    /// B's side.
    pub b: Option<String>,
    /// Each way they differ beyond the tolerances (empty: the same).
    pub differences: Vec<String>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TraceDiff {
    /// Every pair, in the order they happened in A (then B's extras).
    pub lines: Vec<DiffLine>,
    /// Pairs that differ.
    pub differing: usize,
}

/// What one interaction came to.
#[derive(Debug, Clone, Default)]
struct Seen {
    device: String,
    /// Comparable facts, by name (`status`, `outcome`, `feedback`, …).
    facts: BTreeMap<&'static str, String>,
    /// A JSON payload to compare with the value tolerance.
    payload: Option<Value>,
    /// A time to compare with the time tolerance, milliseconds.
    time_ms: Option<f64>,
    /// Telemetry: how many messages.
    count: Option<usize>,
    first_id: i64,
}

fn json_of(p: &BodyPreview) -> Value {
    match &p.text {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
        None => p.base64.clone().map(Value::String).unwrap_or(Value::Null),
    }
}

/// The interactions of one trace, keyed for pairing.
fn interactions(events: &[TraceEvent]) -> Vec<(String, Seen)> {
    let mut devices: Vec<String> = Vec::new();
    let role = |d: &str, devices: &mut Vec<String>| match devices.iter().position(|x| x == d) {
        Some(i) => i,
        None => {
            devices.push(d.to_string());
            devices.len() - 1
        }
    };
    let mut by_key: BTreeMap<String, Seen> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut counters: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut enqueued_at: BTreeMap<String, i64> = BTreeMap::new();
    let mut telemetry_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in events {
        let Some(device) = e.device_id.clone() else {
            continue;
        };
        let r = role(&device, &mut devices);
        let mut open = |what: String,
                        corr: &str,
                        by_key: &mut BTreeMap<String, Seen>,
                        order: &mut Vec<String>| {
            let n = counters.entry(format!("{r}/{what}")).or_default();
            *n += 1;
            let key = format!("device {} · {what} #{n}", r + 1);
            keys.insert(corr.to_string(), key.clone());
            order.push(key.clone());
            by_key.insert(
                key,
                Seen {
                    device: device.clone(),
                    first_id: e.id,
                    ..Seen::default()
                },
            );
        };
        match &e.detail {
            TraceDetail::MethodInvoked(m) => {
                if let Some(rid) = &e.request_id {
                    open(
                        format!("method {}", m.method_name),
                        &format!("m:{rid}"),
                        &mut by_key,
                        &mut order,
                    );
                }
            }
            TraceDetail::C2dEnqueued(_) => {
                if let Some(mid) = &e.message_id {
                    open("c2d".into(), &format!("c:{mid}"), &mut by_key, &mut order);
                    enqueued_at.insert(mid.clone(), e.ts.0);
                }
            }
            TraceDetail::TelemetryReceived(t) => {
                let key = format!("device {} · telemetry", r + 1);
                if !by_key.contains_key(&key) {
                    order.push(key.clone());
                    by_key.insert(
                        key.clone(),
                        Seen {
                            device: device.clone(),
                            first_id: e.id,
                            count: Some(0),
                            ..Seen::default()
                        },
                    );
                }
                if let Some(s) = by_key.get_mut(&key) {
                    s.count = s.count.map(|c| c + 1);
                }
                if let Value::Object(o) = json_of(&t.body) {
                    telemetry_fields
                        .entry(key)
                        .or_default()
                        .extend(o.keys().cloned());
                }
            }
            _ => {}
        }
        // The interaction this event belongs to, by its request or message id.
        let of_method = e
            .request_id
            .as_ref()
            .and_then(|r| keys.get(&format!("m:{r}")))
            .cloned();
        let of_message = e
            .message_id
            .as_ref()
            .and_then(|id| keys.get(&format!("c:{id}")))
            .cloned();
        match &e.detail {
            TraceDetail::MethodResponded(d) => {
                if let Some(s) = of_method.as_ref().and_then(|k| by_key.get_mut(k)) {
                    s.facts.insert("outcome", format!("status {}", d.status));
                    s.payload = Some(json_of(&d.payload));
                    s.time_ms = Some(d.latency_ms);
                }
            }
            TraceDetail::MethodTimedOut(d) => {
                if let Some(s) = of_method.as_ref().and_then(|k| by_key.get_mut(k)) {
                    s.facts.insert("outcome", format!("timed out ({})", d.code));
                }
            }
            TraceDetail::MethodFailed(d) => {
                if let Some(s) = of_method.as_ref().and_then(|k| by_key.get_mut(k)) {
                    s.facts.insert("outcome", format!("failed ({})", d.code));
                }
            }
            TraceDetail::C2dDelivered(_) => {
                if let Some(s) = of_message.as_ref().and_then(|k| by_key.get_mut(k)) {
                    let n: u32 = s
                        .facts
                        .get("deliveries")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    s.facts.insert("deliveries", (n + 1).to_string());
                }
            }
            TraceDetail::C2dCompleted(_)
            | TraceDetail::C2dRejected(_)
            | TraceDetail::C2dAbandoned(_)
            | TraceDetail::C2dExpired(_)
            | TraceDetail::C2dDeadLettered(_)
            | TraceDetail::C2dPurged(_) => {
                let word = e
                    .detail
                    .kind_str()
                    .trim_start_matches("c2d.")
                    .replace('_', " ");
                let final_outcome = !matches!(e.detail, TraceDetail::C2dAbandoned(_));
                let at = e
                    .message_id
                    .as_ref()
                    .and_then(|id| enqueued_at.get(id))
                    .copied();
                if let Some(s) = of_message.as_ref().and_then(|k| by_key.get_mut(k)) {
                    s.facts.insert("outcome", word);
                    if final_outcome && let Some(at) = at {
                        s.time_ms = Some((e.ts.0 - at) as f64);
                    }
                }
            }
            TraceDetail::FeedbackProduced(f) => {
                if let Some(s) = of_message.as_ref().and_then(|k| by_key.get_mut(k)) {
                    s.facts.insert("feedback", f.status_code.to_string());
                }
            }
            _ => {}
        }
    }
    for (key, fields) in telemetry_fields {
        if let Some(s) = by_key.get_mut(&key) {
            s.facts
                .insert("fields", fields.into_iter().collect::<Vec<_>>().join(", "));
        }
    }
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k).map(|s| (k, s)))
        .collect()
}

/// Numbers within `tol`, everything else equal.
fn same_value(a: &Value, b: &Value, tol: f64, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or_default(),
                y.as_f64().unwrap_or_default(),
            );
            if (x - y).abs() > tol {
                out.push(format!("payload {at}: {x} vs {y}"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => same_value(p, q, tol, &format!("{at}.{k}"), out),
                    (p, q) => out.push(format!(
                        "payload {at}.{k}: {} vs {}",
                        p.map_or("absent".into(), |v| v.to_string()),
                        q.map_or("absent".into(), |v| v.to_string())
                    )),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                same_value(p, q, tol, &format!("{at}[{i}]"), out);
            }
        }
        (x, y) if x == y => {}
        (x, y) => out.push(format!("payload {at}: {x} vs {y}")),
    }
}

fn words(s: &Seen) -> String {
    let mut parts: Vec<String> = s
        .facts
        .iter()
        .map(|(k, v)| match *k {
            "outcome" => v.clone(),
            "fields" => format!("fields {v}"),
            _ => format!("{k} {v}"),
        })
        .collect();
    if let Some(c) = s.count {
        parts.push(format!("{c} messages"));
    }
    if let Some(t) = s.time_ms {
        parts.push(format!("{t:.1} ms"));
    }
    parts.join(", ")
}

/// The most events one side of a comparison may hold.
pub const MAX_SIDE: usize = 200_000;

/// One side of a comparison: a stretch of the hub's trace (event ids after
/// `after_id` and before `before_id`), of one device or all.
#[derive(Debug, Clone, Default)]
pub struct Stretch {
    /// Events after this id.
    pub after_id: i64,
    /// Events before this id.
    pub before_id: Option<i64>,
    /// Only this device's.
    pub device_id: Option<String>,
}

impl super::Trace<'_> {
    /// Every event of a stretch, oldest first (at most [`MAX_SIDE`]).
    pub async fn stretch(&self, s: &Stretch) -> HubResult<Vec<TraceEvent>> {
        let mut out: Vec<TraceEvent> = Vec::new();
        let mut after = s.after_id;
        loop {
            let page = self
                .query(TraceQuery {
                    device_id: s.device_id.clone(),
                    after_id: Some(after),
                    before_id: s.before_id,
                    limit: Some(super::MAX_LIMIT),
                    ..TraceQuery::default()
                })
                .await?;
            let n = page.len();
            if let Some(last) = page.last() {
                after = last.id;
            }
            out.extend(page);
            if out.len() > MAX_SIDE {
                return Err(HubError::invalid(format!(
                    "a side of a comparison may hold at most {MAX_SIDE} events; choose a shorter stretch"
                )));
            }
            if n < super::MAX_LIMIT {
                return Ok(out);
            }
        }
    }
}

/// Compares two traces (each oldest first).
pub fn diff(a: &[TraceEvent], b: &[TraceEvent], opts: DiffOptions) -> TraceDiff {
    let ia = interactions(a);
    let mut ib: BTreeMap<String, Seen> = interactions(b).into_iter().collect();
    let mut lines = Vec::new();
    for (key, sa) in ia {
        let sb = ib.remove(&key);
        let mut differences = Vec::new();
        match &sb {
            None => differences.push("only in A".into()),
            Some(sb) => {
                for k in sa
                    .facts
                    .keys()
                    .chain(sb.facts.keys().filter(|k| !sa.facts.contains_key(*k)))
                {
                    let (x, y) = (sa.facts.get(k), sb.facts.get(k));
                    if x != y {
                        differences.push(format!(
                            "{k}: {} vs {}",
                            x.map_or("none", String::as_str),
                            y.map_or("none", String::as_str)
                        ));
                    }
                }
                if let (Some(p), Some(q)) = (&sa.payload, &sb.payload) {
                    same_value(p, q, opts.value, "$", &mut differences);
                }
                if let (Some(x), Some(y)) = (sa.time_ms, sb.time_ms)
                    && (x - y).abs() > opts.time_ms
                {
                    differences.push(format!(
                        "time: {x:.1} ms vs {y:.1} ms (more than {} ms apart)",
                        opts.time_ms
                    ));
                }
                if let (Some(x), Some(y)) = (sa.count, sb.count) {
                    let larger = x.max(y) as f64;
                    if (x as f64 - y as f64).abs() > opts.count_share * larger {
                        differences.push(format!("messages: {x} vs {y}"));
                    }
                }
            }
        }
        lines.push(DiffLine {
            what: key,
            devices: (
                Some(sa.device.clone()),
                sb.as_ref().map(|s| s.device.clone()),
            ),
            a: Some(words(&sa)),
            b: sb.as_ref().map(words),
            differences,
        });
    }
    let mut extra: Vec<(String, Seen)> = ib.into_iter().collect();
    extra.sort_by_key(|(_, s)| s.first_id);
    for (key, sb) in extra {
        lines.push(DiffLine {
            what: key,
            devices: (None, Some(sb.device.clone())),
            a: None,
            b: Some(words(&sb)),
            differences: vec!["only in B".into()],
        });
    }
    let differing = lines.iter().filter(|l| !l.differences.is_empty()).count();
    TraceDiff { lines, differing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::trace::detail::{MethodInvoked, MethodResponded, MethodTimedOut};

    fn ev(id: i64, device: &str, rid: &str, detail: TraceDetail) -> TraceEvent {
        TraceEvent {
            id,
            ts: Timestamp(1_000_000 + id * 10),
            mono_us: 0,
            device_id: Some(device.into()),
            message_id: None,
            lock_token: None,
            request_id: Some(rid.into()),
            detail,
        }
    }

    fn call(
        id: i64,
        device: &str,
        rid: &str,
        status: i32,
        payload: &str,
        latency: f64,
    ) -> Vec<TraceEvent> {
        let p = BodyPreview::of(payload.as_bytes(), 1000);
        vec![
            ev(
                id,
                device,
                rid,
                TraceDetail::MethodInvoked(MethodInvoked {
                    method_name: "get".into(),
                    payload: BodyPreview::of(b"null", 1000),
                    connect_timeout_in_seconds: 0,
                    response_timeout_in_seconds: 30,
                }),
            ),
            ev(
                id + 1,
                device,
                rid,
                TraceDetail::MethodResponded(MethodResponded {
                    method_name: "get".into(),
                    status,
                    payload: p,
                    latency_ms: latency,
                }),
            ),
        ]
    }

    #[test]
    fn the_same_run_on_other_ids_is_the_same() {
        let a = [
            call(1, "board", "1", 200, r#"{"t": 21.5}"#, 3.0),
            call(3, "board", "2", 200, r#"{"t": 22}"#, 4.0),
        ]
        .concat();
        let b = [
            call(10, "replay", "7", 200, r#"{"t": 21.5}"#, 40.0),
            call(12, "replay", "8", 200, r#"{"t": 22.0}"#, 5.0),
        ]
        .concat();
        let d = diff(&a, &b, DiffOptions::default());
        assert_eq!(d.lines.len(), 2);
        assert_eq!(d.differing, 0, "{d:#?}");
        assert_eq!(d.lines[0].what, "device 1 · method get #1");
        assert_eq!(
            d.lines[0].devices,
            (Some("board".into()), Some("replay".into()))
        );
    }

    #[test]
    fn outcomes_payloads_times_and_missing_calls_differ() {
        let a = [
            call(1, "d", "1", 200, r#"{"t": 21.5, "u": "C"}"#, 3.0),
            call(3, "d", "2", 200, "{}", 3.0),
        ]
        .concat();
        let mut b = call(10, "d", "7", 500, r#"{"t": 25, "u": "C"}"#, 300.0);
        b.push(ev(
            12,
            "d",
            "8",
            TraceDetail::MethodInvoked(MethodInvoked {
                method_name: "get".into(),
                payload: BodyPreview::of(b"null", 1000),
                connect_timeout_in_seconds: 0,
                response_timeout_in_seconds: 5,
            }),
        ));
        b.push(ev(
            13,
            "d",
            "8",
            TraceDetail::MethodTimedOut(MethodTimedOut {
                method_name: "get".into(),
                code: 504101,
                response_timeout_in_seconds: 5,
            }),
        ));
        b.extend(call(20, "d", "9", 200, "{}", 1.0));
        let d = diff(
            &a,
            &b,
            DiffOptions {
                value: 1.0,
                ..DiffOptions::default()
            },
        );
        let first = &d.lines[0].differences;
        assert!(
            first.contains(&"outcome: status 200 vs status 500".to_string()),
            "{first:?}"
        );
        assert!(
            first
                .iter()
                .any(|x| x.starts_with("payload $.t: 21.5 vs 25")),
            "{first:?}"
        );
        assert!(
            first
                .iter()
                .any(|x| x.starts_with("time: 3.0 ms vs 300.0 ms")),
            "{first:?}"
        );
        assert!(
            d.lines[1]
                .differences
                .contains(&"outcome: status 200 vs timed out (504101)".to_string())
        );
        assert_eq!(d.lines[2].differences, vec!["only in B".to_string()]);
        assert_eq!(d.differing, 3);
    }
}
