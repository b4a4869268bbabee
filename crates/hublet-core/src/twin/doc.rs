//! A twin's sections as pure data: IoT Hub's merge (a `null` removes), the
//! `$metadata` tree kept beside the document, and IoT Hub's limits on keys,
//! values, depth and size. Nothing here touches storage or the clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

/// Longest key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest string value, in UTF-8 bytes.
pub const MAX_STRING_BYTES: usize = 4096;
/// Deepest nesting of objects inside a section.
pub const MAX_DEPTH: usize = 10;
/// Largest integer magnitude (IoT Hub: ±2^52).
pub const MAX_INTEGER: i64 = 4_503_599_627_370_496;
/// Largest `tags`, by IoT Hub's size formula.
pub const MAX_TAGS_BYTES: usize = 8 * 1024;
/// Largest `desired` or `reported` section.
pub const MAX_PROPERTIES_BYTES: usize = 32 * 1024;

/// When each node of a section last changed (IoT Hub's `$metadata`), and,
/// for desired properties, at which `$version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNode {
    /// `$lastUpdated`, in milliseconds.
    #[serde(rename = "t")]
    pub last_updated: Timestamp,
    /// `$lastUpdatedVersion` (desired only).
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub last_updated_version: Option<u64>,
    /// Object members' nodes (empty for leaves and arrays).
    #[serde(rename = "c", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, MetaNode>,
}

impl MetaNode {
    /// A node changed at `t` (and `version`, for desired).
    pub fn new(t: Timestamp, version: Option<u64>) -> MetaNode {
        MetaNode {
            last_updated: t,
            last_updated_version: version,
            children: BTreeMap::new(),
        }
    }

    /// IoT Hub's `$metadata` object for this node.
    pub fn render(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "$lastUpdated".into(),
            Value::String(iothub_time(self.last_updated)),
        );
        if let Some(v) = self.last_updated_version {
            m.insert("$lastUpdatedVersion".into(), Value::from(v));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.render());
        }
        Value::Object(m)
    }
}

/// A time as IoT Hub prints it in twins: UTC, fractions without trailing zeros.
pub fn iothub_time(t: Timestamp) -> String {
    let s = t.to_datetime().format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}Z")
}

/// One section: the user's document, its `$version` and its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The user's keys.
    pub doc: Map<String, Value>,
    /// `$version`.
    pub version: u64,
    /// `$metadata`.
    pub meta: MetaNode,
}

impl Section {
    /// A fresh section: empty, version 1.
    pub fn new(t: Timestamp) -> Section {
        Section {
            doc: Map::new(),
            version: 1,
            meta: MetaNode::new(t, None),
        }
    }

    /// The section with `$metadata` and `$version`, as in a service twin.
    pub fn render(&self) -> Value {
        let mut m = self.doc.clone();
        m.insert("$metadata".into(), self.meta.render());
        m.insert("$version".into(), Value::from(self.version));
        Value::Object(m)
    }

    /// The section with `$version` only, as a device's twin GET returns it.
    pub fn render_for_device(&self) -> Value {
        let mut m = self.doc.clone();
        m.insert("$version".into(), Value::from(self.version));
        Value::Object(m)
    }
}

/// Merges `patch` into `doc`: members replace, objects merge, `null`
/// removes; every node on a changed path gets `t` (and `version`).
pub fn merge(
    doc: &mut Map<String, Value>,
    meta: &mut MetaNode,
    patch: &Map<String, Value>,
    t: Timestamp,
    version: Option<u64>,
) {
    meta.last_updated = t;
    meta.last_updated_version = version;
    for (k, pv) in patch {
        match pv {
            Value::Null => {
                doc.remove(k);
                meta.children.remove(k);
            }
            Value::Object(p) => {
                let child_meta = meta
                    .children
                    .entry(k.clone())
                    .or_insert_with(|| MetaNode::new(t, version));
                match doc.get_mut(k) {
                    Some(Value::Object(d)) => merge(d, child_meta, p, t, version),
                    _ => {
                        let mut fresh = Map::new();
                        *child_meta = MetaNode::new(t, version);
                        merge(&mut fresh, child_meta, p, t, version);
                        doc.insert(k.clone(), Value::Object(fresh));
                    }
                }
            }
            v => {
                doc.insert(k.clone(), v.clone());
                meta.children.insert(k.clone(), MetaNode::new(t, version));
            }
        }
    }
}

/// Which section a write is for (each has its own size limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// `tags`.
    Tags,
    /// `properties.desired`.
    Desired,
    /// `properties.reported`.
    Reported,
}

impl SectionKind {
    fn name(self) -> &'static str {
        match self {
            SectionKind::Tags => "tags",
            SectionKind::Desired => "properties.desired",
            SectionKind::Reported => "properties.reported",
        }
    }

    fn limit(self) -> usize {
        match self {
            SectionKind::Tags => MAX_TAGS_BYTES,
            _ => MAX_PROPERTIES_BYTES,
        }
    }
}

/// Checks a patch's keys and values against IoT Hub's rules (400004 naming
/// the path at fault).
pub fn validate_patch(kind: SectionKind, patch: &Map<String, Value>) -> HubResult<()> {
    check_object(kind.name(), patch, 1)
}

/// Checks the section a write would leave against its size limit.
pub fn validate_size(kind: SectionKind, doc: &Map<String, Value>) -> HubResult<()> {
    let size = object_size(doc);
    if size > kind.limit() {
        return Err(HubError::invalid_field(
            kind.name(),
            format!(
                "{} would be {size} bytes, over IoT Hub's limit of {} bytes",
                kind.name(),
                kind.limit()
            ),
        ));
    }
    Ok(())
}

fn check_object(path: &str, o: &Map<String, Value>, depth: usize) -> HubResult<()> {
    if depth > MAX_DEPTH {
        return Err(HubError::invalid_field(
            path,
            format!("'{path}' nests objects deeper than IoT Hub's {MAX_DEPTH} levels"),
        ));
    }
    for (k, v) in o {
        let here = format!("{path}.{k}");
        check_key(path, k)?;
        check_value(&here, v, depth)?;
    }
    Ok(())
}

fn check_key(path: &str, k: &str) -> HubResult<()> {
    let bad = if k.is_empty() {
        Some("is empty".to_string())
    } else if k.len() > MAX_KEY_BYTES {
        Some(format!("is longer than {MAX_KEY_BYTES} bytes"))
    } else {
        k.chars()
            .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '.' | '$' | '#'))
            .map(|c| format!("contains {c:?}, which IoT Hub does not allow in property names"))
    };
    match bad {
        Some(why) => Err(HubError::invalid_field(
            path,
            format!("key '{k}' in '{path}' {why}"),
        )),
        None => Ok(()),
    }
}

fn check_value(path: &str, v: &Value, depth: usize) -> HubResult<()> {
    match v {
        Value::String(s) if s.len() > MAX_STRING_BYTES => Err(HubError::invalid_field(
            path,
            format!("'{path}' is a string longer than {MAX_STRING_BYTES} bytes"),
        )),
        Value::Number(n) => {
            let out = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => !(-MAX_INTEGER..MAX_INTEGER).contains(&i),
                (None, Some(_)) => true,
                _ => false,
            };
            if out {
                return Err(HubError::invalid_field(
                    path,
                    format!("'{path}' is an integer outside IoT Hub's range of ±2^52"),
                ));
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}[{i}]");
                if item.is_null() {
                    return Err(HubError::invalid_field(
                        path,
                        format!("'{here}' is null; arrays in a twin may not hold null"),
                    ));
                }
                check_value(&here, item, depth)?;
            }
            Ok(())
        }
        Value::Object(o) => check_object(path, o, depth + 1),
        _ => Ok(()),
    }
}

/// IoT Hub's size of a document: keys' bytes plus values' (strings by their
/// bytes, numbers 8, booleans 4, objects and arrays by their contents).
pub fn object_size(o: &Map<String, Value>) -> usize {
    o.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 4,
        Value::Number(_) => 8,
        Value::String(s) => s
            .chars()
            .filter(|c| !c.is_control())
            .map(char::len_utf8)
            .sum(),
        Value::Array(a) => a.iter().map(value_size).sum(),
        Value::Object(o) => object_size(o),
    }
}

/// A patch with the read-only members a service may send back from a
/// fetched twin (`$metadata`, `$version` at the root) left out.
pub fn without_read_only(mut o: Map<String, Value>) -> Map<String, Value> {
    o.remove("$metadata");
    o.remove("$version");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_patch_merges_objects_replaces_leaves_and_null_removes() {
        let t0 = Timestamp(1_000);
        let t1 = Timestamp(2_000);
        let mut s = Section::new(t0);
        merge(
            &mut s.doc,
            &mut s.meta,
            &obj(json!({"a": 1, "o": {"x": 1, "y": 2}, "gone": true})),
            t0,
            Some(2),
        );
        merge(
            &mut s.doc,
            &mut s.meta,
            &obj(json!({"o": {"y": null, "z": [1, 2]}, "gone": null, "a": "one"})),
            t1,
            Some(3),
        );
        assert_eq!(
            Value::Object(s.doc.clone()),
            json!({"a": "one", "o": {"x": 1, "z": [1, 2]}})
        );
        let meta = s.meta.render();
        assert_eq!(meta["$lastUpdatedVersion"], 3);
        assert_eq!(
            meta["o"]["x"]["$lastUpdatedVersion"], 2,
            "untouched keys keep their version"
        );
        assert_eq!(meta["o"]["$lastUpdatedVersion"], 3);
        assert!(meta.get("gone").is_none() && meta["o"].get("y").is_none());
    }

    #[test]
    fn iot_hubs_rules_on_keys_values_and_depth() {
        let ok = obj(json!({"temp": 21.5, "nested": {"a": {"b": [1, "x", {"c": true}]}}}));
        assert!(validate_patch(SectionKind::Desired, &ok).is_ok());
        for bad in [
            json!({"a.b": 1}),
            json!({"$x": 1}),
            json!({"with space": 1}),
            json!({"": 1}),
            json!({"s": "x".repeat(MAX_STRING_BYTES + 1)}),
            json!({"n": 4_503_599_627_370_497_i64}),
            json!({"arr": [1, null]}),
            json!({"1":{"2":{"3":{"4":{"5":{"6":{"7":{"8":{"9":{"10":{"11":1}}}}}}}}}}}),
        ] {
            assert!(
                validate_patch(SectionKind::Desired, &obj(bad.clone())).is_err(),
                "{bad}"
            );
        }
        let ten = json!({"1":{"2":{"3":{"4":{"5":{"6":{"7":{"8":{"9":{"10":1}}}}}}}}}});
        assert!(validate_patch(SectionKind::Tags, &obj(ten)).is_ok());
    }

    #[test]
    fn size_follows_iot_hubs_formula() {
        assert_eq!(
            object_size(&obj(json!({"ab": "xyz", "n": 1, "b": true}))),
            2 + 3 + 1 + 8 + 1 + 4
        );
        let big = obj(json!({"k": "x".repeat(4000), "l": "x".repeat(4000), "m": "x".repeat(1000)}));
        assert!(validate_size(SectionKind::Tags, &big).is_err());
        assert!(validate_size(SectionKind::Desired, &big).is_ok());
    }

    #[test]
    fn times_print_as_iot_hub_does() {
        assert_eq!(iothub_time(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(iothub_time(Timestamp(1_500)), "1970-01-01T00:00:01.5Z");
    }
}
