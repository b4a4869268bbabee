//! A [`Query`] over twins (each as `GET /twins/{id}` shows it): filter,
//! project or aggregate, then one page.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::parse::{Aggregate, Cmp, Column, Expr, Function, Operand, Path, Query};
use super::{DEFAULT_PAGE, MAX_PAGE};
use crate::error::{HubError, HubResult};

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The rows.
    pub items: Vec<Value>,
    /// `twin` for `SELECT *`, `raw` for projections and aggregates.
    pub item_type: &'static str,
    /// The token for the next page, when there is one.
    pub continuation: Option<String>,
}

/// Runs `q` (its text `text`, for the continuation token) over `twins`
/// (sorted by device id), returning the page after `continuation`.
pub fn run(
    text: &str,
    q: &Query,
    twins: &[Value],
    page_size: Option<usize>,
    continuation: Option<&str>,
) -> HubResult<QueryPage> {
    let matching: Vec<&Value> = twins
        .iter()
        .filter(|t| match &q.condition {
            None => true,
            Some(c) => truth(c, t) == Some(true),
        })
        .collect();
    let (rows, item_type) = match &q.projection {
        None => (matching.into_iter().cloned().collect::<Vec<_>>(), "twin"),
        Some(items)
            if items
                .iter()
                .any(|i| matches!(i.what, Column::Aggregate(..)))
                || !q.group_by.is_empty() =>
        {
            (aggregate(q, items, &matching), "raw")
        }
        Some(items) => (
            matching
                .into_iter()
                .map(|t| {
                    let mut row = Map::new();
                    for i in items {
                        if let Column::Path(p) = &i.what
                            && let Some((key, v)) = resolve_entry(t, p)
                        {
                            let name = if i.aliased { i.name.clone() } else { key };
                            row.insert(name, v.clone());
                        }
                    }
                    Value::Object(row)
                })
                .collect(),
            "raw",
        ),
    };
    let rows: Vec<Value> = match q.top {
        Some(n) => rows.into_iter().take(n).collect(),
        None => rows,
    };
    let size = page_size.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let start = match continuation {
        None => 0,
        Some(token) => decode_token(token, text)?,
    };
    let end = (start + size).min(rows.len());
    let items = rows
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    Ok(QueryPage {
        items,
        item_type,
        continuation: (end < rows.len()).then(|| encode_token(end, text)),
    })
}

/// The query's fingerprint in a token, so a token is not used with
/// another query.
fn fingerprint(text: &str) -> u64 {
    // FNV-1a: stable across runs and builds (unlike std's hasher).
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn encode_token(offset: usize, text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!(
        "{{\"o\":{offset},\"q\":\"{:016x}\"}}",
        fingerprint(text)
    ))
}

fn decode_token(token: &str, text: &str) -> HubResult<usize> {
    let bad = || {
        HubError::invalid_field(
            "x-ms-continuation",
            "the continuation token is not one this query gave",
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v["q"].as_str() != Some(format!("{:016x}", fingerprint(text)).as_str()) {
        return Err(bad());
    }
    v["o"]
        .as_u64()
        .and_then(|o| usize::try_from(o).ok())
        .ok_or_else(bad)
}

/// A path's value in a twin: each segment exact first, then in any case;
/// a leading `devices.` is the collection and skipped.
fn resolve<'a>(twin: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut segs = path.as_slice();
    if segs.len() > 1 && segs[0].eq_ignore_ascii_case("devices") {
        segs = &segs[1..];
    }
    let mut cur = twin;
    for s in segs {
        let o = cur.as_object()?;
        cur = match o.get(s) {
            Some(v) => v,
            None => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(s))
                .map(|(_, v)| v)?,
        };
    }
    Some(cur)
}

/// A path's value with the last key as the twin spells it.
fn resolve_entry<'a>(twin: &'a Value, path: &Path) -> Option<(String, &'a Value)> {
    let v = resolve(twin, path)?;
    let (parent, last) = path.split_at(path.len().saturating_sub(1));
    let last = last.first()?;
    let key = match resolve(twin, &parent.to_vec()).and_then(Value::as_object) {
        Some(o) if !o.contains_key(last) => o
            .keys()
            .find(|k| k.eq_ignore_ascii_case(last))
            .cloned()
            .unwrap_or_else(|| last.clone()),
        _ => last.clone(),
    };
    Some((key, v))
}

fn value<'a>(o: &'a Operand, twin: &'a Value) -> Option<&'a Value> {
    match o {
        Operand::Literal(v) => Some(v),
        Operand::Path(p) => resolve(twin, p),
    }
}

/// Three-valued truth: `None` is undefined.
fn truth(e: &Expr, t: &Value) -> Option<bool> {
    match e {
        Expr::Or(a, b) => match (truth(a, t), truth(b, t)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::And(a, b) => match (truth(a, t), truth(b, t)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Not(a) => truth(a, t).map(|b| !b),
        Expr::Compare(a, cmp, b) => {
            let ord = compare(value(a, t)?, value(b, t)?)?;
            Some(match cmp {
                Cmp::Eq => ord == Ordering::Equal,
                Cmp::Ne => ord != Ordering::Equal,
                Cmp::Lt => ord == Ordering::Less,
                Cmp::Le => ord != Ordering::Greater,
                Cmp::Gt => ord == Ordering::Greater,
                Cmp::Ge => ord != Ordering::Less,
            })
        }
        Expr::In(a, list, negated) => {
            let v = value(a, t)?;
            let found = list.iter().any(|x| compare(v, x) == Some(Ordering::Equal));
            Some(found != *negated)
        }
        Expr::Call(f, args) => {
            let v = args.first().and_then(|a| value(a, t));
            Some(match f {
                Function::IsDefined => v.is_some(),
                Function::IsNull => v.is_some_and(Value::is_null),
                Function::IsBool => v.is_some_and(Value::is_boolean),
                Function::IsNumber => v.is_some_and(Value::is_number),
                Function::IsString => v.is_some_and(Value::is_string),
                Function::IsObject => v.is_some_and(Value::is_object),
                Function::IsArray => v.is_some_and(Value::is_array),
                Function::IsPrimitive => v.is_some_and(|v| !v.is_object() && !v.is_array()),
                Function::StartsWith | Function::EndsWith => {
                    let s = v?.as_str()?;
                    let affix = args.get(1).and_then(|a| value(a, t))?.as_str()?;
                    if *f == Function::StartsWith {
                        s.starts_with(affix)
                    } else {
                        s.ends_with(affix)
                    }
                }
            })
        }
        Expr::Operand(o) => match value(o, t)? {
            Value::Bool(b) => Some(*b),
            _ => Some(false),
        },
    }
}

/// Order between two primitive values of the same type; `None` otherwise.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Aggregates (with `GROUP BY`, one row per group, ordered by the group's key).
fn aggregate(q: &Query, items: &[super::parse::Item], rows: &[&Value]) -> Vec<Value> {
    let mut groups: BTreeMap<String, (Vec<Option<Value>>, Vec<&Value>)> = BTreeMap::new();
    for t in rows {
        let key: Vec<Option<Value>> = q.group_by.iter().map(|p| resolve(t, p).cloned()).collect();
        let k = serde_json::to_string(&key).unwrap_or_default();
        groups
            .entry(k)
            .or_insert_with(|| (key, Vec::new()))
            .1
            .push(t);
    }
    if groups.is_empty() && q.group_by.is_empty() {
        groups.insert(String::new(), (Vec::new(), Vec::new()));
    }
    groups
        .into_values()
        .map(|(key, members)| {
            let mut row = Map::new();
            for i in items {
                let v = match &i.what {
                    Column::Path(p) => q
                        .group_by
                        .iter()
                        .position(|g| g == p)
                        .and_then(|n| key.get(n).cloned().flatten())
                        .or_else(|| members.first().and_then(|t| resolve(t, p).cloned())),
                    Column::Aggregate(Aggregate::Count, _) => Some(Value::from(members.len())),
                    Column::Aggregate(agg, Some(p)) => {
                        let nums: Vec<f64> = members
                            .iter()
                            .filter_map(|t| resolve(t, p).and_then(Value::as_f64))
                            .collect();
                        let r = match agg {
                            Aggregate::Sum => Some(nums.iter().sum()),
                            Aggregate::Avg => (!nums.is_empty())
                                .then(|| nums.iter().sum::<f64>() / nums.len() as f64),
                            Aggregate::Min => nums.iter().copied().reduce(f64::min),
                            Aggregate::Max => nums.iter().copied().reduce(f64::max),
                            Aggregate::Count => None,
                        };
                        r.and_then(serde_json::Number::from_f64).map(|n| {
                            // Whole numbers print as integers, as IoT Hub's do.
                            match n.as_f64() {
                                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                                    Value::from(f as i64)
                                }
                                _ => Value::Number(n),
                            }
                        })
                    }
                    Column::Aggregate(_, None) => None,
                };
                if let Some(v) = v {
                    row.insert(i.name.clone(), v);
                }
            }
            Value::Object(row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    fn twins() -> Vec<Value> {
        vec![
            json!({"deviceId": "a1", "status": "enabled", "connectionState": "Connected",
                   "tags": {"room": "lab", "floor": 1},
                   "properties": {"desired": {"setpoint": 21}, "reported": {"fw": "1.0", "temp": 20.5}}}),
            json!({"deviceId": "a2", "status": "disabled", "connectionState": "Disconnected",
                   "tags": {"room": "lab", "floor": 2},
                   "properties": {"desired": {}, "reported": {"fw": "1.1", "temp": 22.5}}}),
            json!({"deviceId": "b1", "status": "enabled", "connectionState": "Disconnected",
                   "properties": {"desired": {}, "reported": {"fw": null}}}),
        ]
    }

    fn ids(text: &str) -> Vec<String> {
        let q = parse(text).unwrap();
        run(text, &q, &twins(), None, None)
            .unwrap()
            .items
            .iter()
            .map(|t| t["deviceId"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn a_table_of_queries_and_their_results() {
        for (q, want) in [
            ("SELECT * FROM devices", vec!["a1", "a2", "b1"]),
            (
                "SELECT * FROM devices WHERE tags.room = 'lab'",
                vec!["a1", "a2"],
            ),
            ("SELECT * FROM devices WHERE tags.floor > 1", vec!["a2"]),
            ("SELECT * FROM devices WHERE tags.room != 'lab'", vec![]),
            (
                "SELECT * FROM devices WHERE NOT (tags.room = 'lab')",
                vec![],
            ),
            (
                "SELECT * FROM devices WHERE NOT IS_DEFINED(tags.room)",
                vec!["b1"],
            ),
            (
                "SELECT * FROM devices WHERE IS_DEFINED(properties.reported.fw)",
                vec!["a1", "a2", "b1"],
            ),
            (
                "SELECT * FROM devices WHERE properties.reported.fw = null",
                vec!["b1"],
            ),
            (
                "SELECT * FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'",
                vec!["b1"],
            ),
            (
                "SELECT * FROM devices WHERE Status = 'enabled' OR tags.floor = 2",
                vec!["a1", "a2", "b1"],
            ),
            (
                "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'a')",
                vec!["a1", "a2"],
            ),
            (
                "SELECT * FROM devices WHERE ENDSWITH(DeviceId, '1')",
                vec!["a1", "b1"],
            ),
            (
                "SELECT * FROM devices WHERE properties.reported.fw IN ['1.1', '2.0']",
                vec!["a2"],
            ),
            (
                "SELECT * FROM devices WHERE properties.reported.fw NIN ['1.1']",
                vec!["a1", "b1"],
            ),
            ("SELECT * FROM devices WHERE tags.floor = '1'", vec![]),
            (
                "SELECT TOP 1 * FROM devices WHERE tags.room = 'lab'",
                vec!["a1"],
            ),
            (
                "SELECT * FROM devices WHERE devices.tags.floor >= 1 AND properties.reported.temp < 22",
                vec!["a1"],
            ),
        ] {
            assert_eq!(ids(q), want, "{q}");
        }
    }

    #[test]
    fn projections_and_aggregates() {
        let run_raw = |text: &str| {
            let q = parse(text).unwrap();
            let p = run(text, &q, &twins(), None, None).unwrap();
            assert_eq!(p.item_type, "raw");
            p.items
        };
        assert_eq!(
            run_raw(
                "SELECT DeviceId, properties.reported.fw AS firmware FROM devices WHERE tags.room = 'lab'"
            ),
            vec![
                json!({"deviceId": "a1", "firmware": "1.0"}),
                json!({"deviceId": "a2", "firmware": "1.1"})
            ]
        );
        assert_eq!(
            run_raw("SELECT COUNT() AS n FROM devices"),
            vec![json!({"n": 3})]
        );
        assert_eq!(
            run_raw("SELECT COUNT() AS n FROM devices WHERE tags.room = 'none'"),
            vec![json!({"n": 0})]
        );
        assert_eq!(
            run_raw("SELECT status, COUNT() AS n FROM devices GROUP BY status"),
            vec![
                json!({"status": "disabled", "n": 1}),
                json!({"status": "enabled", "n": 2})
            ]
        );
        assert_eq!(
            run_raw("SELECT AVG(properties.reported.temp) AS t, MAX(tags.floor) AS f FROM devices"),
            vec![json!({"t": 21.5, "f": 2})]
        );
    }

    #[test]
    fn pages_follow_the_continuation_token_of_the_same_query() {
        let text = "SELECT * FROM devices";
        let q = parse(text).unwrap();
        let first = run(text, &q, &twins(), Some(2), None).unwrap();
        assert_eq!(first.items.len(), 2);
        let token = first.continuation.unwrap();
        let second = run(text, &q, &twins(), Some(2), Some(&token)).unwrap();
        assert_eq!(second.items.len(), 1);
        assert!(second.continuation.is_none(), "no token on the last page");
        let other = "SELECT * FROM devices WHERE status = 'enabled'";
        assert!(
            run(
                other,
                &parse(other).unwrap(),
                &twins(),
                Some(2),
                Some(&token)
            )
            .is_err()
        );
    }
}
