//! Device and module twins: tags, desired and reported properties with
//! IoT Hub's versions, metadata, etags, merge rules and limits.
//!
//! Every operation takes an identity key: a device id, or
//! `device/module` for a module's twin ([`Identity`]).
//!
//! - [`doc`]: the sections as pure data (merge, `$metadata`, limits);
//! - `table`: the `twins` table (a device without a row has a fresh twin);
//! - this file: the operations every edge uses: the service's get, patch
//!   and replace, the device's GET and reported patch, and desired-patch
//!   notifications to an attached device.
//!
//! Versions follow IoT Hub's arithmetic (docs/semantics.md, Twins): each
//! section starts at `$version` 1, the twin's `version` at 2 and its etag
//! at 1; a service write bumps the etag and `version` once, a desired
//! change also the desired `$version`; a device's reported patch bumps the
//! reported `$version` and `version`, never the etag.
//!
//! Service writes to twins are serialized (one at a time, hub-wide) from
//! the write through the notification, so a device sees desired patches in
//! `$version` order and a twin GET never returns a version older than one
//! already notified.

pub mod doc;
pub mod query;
pub(crate) mod table;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ts_rs::TS;

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::hub::Hub;
use crate::ids::Identity;
use crate::modules::Module;
use crate::registry::{ConnectionState, Device};
use crate::trace::detail::TwinUpdated;
use crate::trace::{NewEvent, TraceDetail};
use doc::{Section, SectionKind};

/// A twin as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinState {
    /// `tags`; `None` until a tag was first set (IoT Hub leaves the key out).
    pub tags: Option<Map<String, Value>>,
    /// `properties.desired`.
    pub desired: Section,
    /// `properties.reported`.
    pub reported: Section,
    /// The etag's counter.
    pub etag_seq: u64,
    /// The twin's `version`.
    pub version: u64,
    /// The IoT Plug and Play model id the device announced (`""` if none).
    pub model_id: String,
}

impl TwinState {
    /// The twin of a device registered at `created`.
    pub fn fresh(created: Timestamp) -> TwinState {
        TwinState {
            tags: None,
            desired: Section::new(created),
            reported: Section::new(created),
            etag_seq: 1,
            version: 2,
            model_id: String::new(),
        }
    }

    /// The etag: the counter as 8 big-endian bytes in base64, as IoT Hub.
    pub fn etag(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.etag_seq.to_be_bytes())
    }

    /// What a device's twin GET answers: the two sections with `$version`
    /// and nothing else.
    pub fn device_view(&self) -> Value {
        json!({
            "desired": self.desired.render_for_device(),
            "reported": self.reported.render_for_device(),
        })
    }
}

/// A device's or module's twin with its identity fields, as
/// `GET /twins/{id}` and `GET /twins/{id}/modules/{mid}` show it.
#[derive(Debug, Clone)]
pub struct Twin {
    /// The device (the module's device, for a module twin).
    pub device: Device,
    /// The module, for a module twin.
    pub module: Option<Module>,
    /// Its twin.
    pub state: TwinState,
}

impl Twin {
    /// IoT Hub's JSON form of the twin.
    pub fn to_json(&self) -> Value {
        let d = &self.device;
        let t = &self.state;
        let never = "0001-01-01T00:00:00Z";
        let module = self.module.as_ref();
        let mut m = Map::new();
        m.insert("deviceId".into(), json!(d.device_id));
        if let Some(md) = module {
            m.insert("moduleId".into(), json!(md.module_id));
        }
        m.insert("etag".into(), json!(t.etag()));
        let identity_etag = module.map_or(&d.etag, |md| &md.etag);
        m.insert(
            "deviceEtag".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(identity_etag.as_bytes())),
        );
        m.insert("status".into(), json!(d.status.as_str()));
        if let Some(r) = &d.status_reason {
            m.insert("statusReason".into(), json!(r));
        }
        m.insert(
            "statusUpdateTime".into(),
            json!(doc::iothub_time(d.status_updated_time)),
        );
        let (state, last_activity, c2d) = match module {
            None => (
                d.connection_state,
                d.last_activity_time,
                d.cloud_to_device_message_count,
            ),
            Some(md) => (md.connection_state, md.last_activity_time, 0),
        };
        m.insert(
            "connectionState".into(),
            json!(match state {
                ConnectionState::Connected => "Connected",
                _ => "Disconnected",
            }),
        );
        m.insert(
            "lastActivityTime".into(),
            json!(
                last_activity
                    .map(doc::iothub_time)
                    .unwrap_or_else(|| never.into())
            ),
        );
        m.insert("cloudToDeviceMessageCount".into(), json!(c2d));
        m.insert("authenticationType".into(), json!("sas"));
        m.insert(
            "x509Thumbprint".into(),
            json!({"primaryThumbprint": null, "secondaryThumbprint": null}),
        );
        m.insert("modelId".into(), json!(t.model_id));
        m.insert("version".into(), json!(t.version));
        if let Some(tags) = &t.tags {
            m.insert("tags".into(), Value::Object(tags.clone()));
        }
        m.insert(
            "properties".into(),
            json!({"desired": t.desired.render(), "reported": t.reported.render()}),
        );
        if module.is_none() {
            m.insert("capabilities".into(), json!({"iotEdge": false}));
        }
        Value::Object(m)
    }
}

/// A service's write: the parts it names, each applied with IoT Hub's rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TwinWrite {
    /// New or changed tags.
    pub tags: Option<Map<String, Value>>,
    /// New or changed desired properties.
    pub desired: Option<Map<String, Value>>,
}

impl TwinWrite {
    /// The parts of a twin document a service may write (`tags` and
    /// `properties.desired`); identity fields, `properties.reported` and
    /// the read-only `$metadata`/`$version` are ignored, as the service
    /// SDKs send fetched twins back whole. 400004 when a part is not an object.
    pub fn from_document(body: &Value) -> HubResult<TwinWrite> {
        let Value::Object(root) = body else {
            return Err(HubError::invalid("a twin must be a JSON object"));
        };
        let part = |v: Option<&Value>, name: &str| -> HubResult<Option<Map<String, Value>>> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(o)) => Ok(Some(doc::without_read_only(o.clone()))),
                Some(_) => Err(HubError::invalid_field(
                    name,
                    format!("'{name}' must be a JSON object"),
                )),
            }
        };
        Ok(TwinWrite {
            tags: part(root.get("tags"), "tags")?,
            desired: part(
                root.get("properties").and_then(|p| p.get("desired")),
                "properties.desired",
            )?,
        })
    }
}

/// Who changed a twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum TwinAuthor {
    /// A back end (service SDK, REST, the app, the CLI).
    Service,
    /// The device itself (reported properties).
    Device,
}

/// How a service write applies: merged into the twin, or replacing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum TwinOp {
    /// Merge (PATCH): members replace, `null` removes.
    Patch,
    /// Replace (PUT): tags and desired properties become the body's.
    Replace,
}

/// The twins.
pub struct Twins<'a> {
    pub(crate) hub: &'a Hub,
}

impl Twins<'_> {
    /// The identity's device and module as the registry has them now
    /// (404001 for an unknown device, 404010 for an unknown module).
    async fn owner(&self, who: &Identity) -> HubResult<(Device, Option<Module>)> {
        let device = self.hub.registry().get(who.device.as_str()).await?;
        let module = match &who.module {
            None => None,
            Some(m) => Some(
                self.hub
                    .modules()
                    .get(who.device.as_str(), m.as_str())
                    .await?,
            ),
        };
        Ok((device, module))
    }

    /// The twin of a device (`id`) or module (`device/module`).
    pub async fn get(&self, id: &str) -> HubResult<Twin> {
        let who = Identity::parse(id)?;
        let (device, module) = self.owner(&who).await?;
        let created = module
            .as_ref()
            .map_or(device.created_time, |m| m.created_time);
        let state = self
            .hub
            .inner
            .db
            .read(move |conn| table::load(conn, who.device.as_str(), who.module_str(), created))
            .await?;
        Ok(Twin {
            device,
            module,
            state,
        })
    }

    /// What the device's own twin GET answers (`{"desired":…, "reported":…}`).
    pub async fn device_view(&self, id: &str) -> HubResult<Value> {
        Ok(self.get(id).await?.state.device_view())
    }

    /// A service's merge (PATCH) or replacement (PUT) of tags and desired
    /// properties, with an optional `If-Match` etag (412001 on mismatch).
    /// Nothing changes on any error. A desired change goes to the device
    /// (or module) if it is attached and subscribed, in `$version` order.
    pub async fn write(
        &self,
        id: &str,
        op: TwinOp,
        write: TwinWrite,
        if_match: Option<&str>,
    ) -> HubResult<Twin> {
        let who = Identity::parse(id)?;
        let key = who.key();
        for (kind, part) in [
            (SectionKind::Tags, &write.tags),
            (SectionKind::Desired, &write.desired),
        ] {
            if let Some(p) = part {
                doc::validate_patch(kind, p)?;
            }
        }
        let wanted = if_match.and_then(etag_condition);
        let _order = self.hub.inner.twin_writes.lock().await;
        let w = who.clone();
        let trace_key = key.clone();
        let (state, notify) = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                let mut t = load_existing(ctx.conn, &w)?;
                if let Some(wanted) = &wanted
                    && *wanted != t.etag()
                {
                    return Err(HubError::PreconditionFailed {
                        given: wanted.clone(),
                        current: t.etag(),
                    });
                }
                let now = ctx.now;
                let notify = apply_service_write(&mut t, op, &write, now)?;
                t.etag_seq += 1;
                t.version += 1;
                table::save(ctx.conn, w.device.as_str(), w.module_str(), &t)?;
                ctx.trace(NewEvent::new(
                    trace_key.as_str(),
                    TraceDetail::TwinUpdated(TwinUpdated {
                        by: TwinAuthor::Service,
                        op,
                        tags: write.tags.clone().map(Value::Object),
                        desired: write.desired.clone().map(Value::Object),
                        reported: None,
                        desired_version: t.desired.version,
                        reported_version: t.reported.version,
                        version: t.version,
                        via: None,
                    }),
                ))?;
                Ok((t, notify))
            })
            .await?;
        if let Some(patch) = notify {
            self.hub.inner.presence.send_desired(&key, patch);
        }
        let (device, module) = self.owner(&who).await?;
        Ok(Twin {
            device,
            module,
            state,
        })
    }

    /// Runs a query in IoT Hub's language over every device's twin
    /// (`FROM devices`) or every module's (`FROM devices.modules`),
    /// one page at a time (400004 for a query Hublet cannot run, with
    /// where it went wrong).
    pub async fn query(
        &self,
        text: &str,
        page_size: Option<usize>,
        continuation: Option<&str>,
    ) -> HubResult<query::QueryPage> {
        let q = query::parse(text)?;
        let devices = self
            .hub
            .registry()
            .list(crate::registry::DeviceQuery {
                limit: Some(100_000),
                ..Default::default()
            })
            .await?;
        let modules_only = q.modules;
        let mut states = self
            .hub
            .inner
            .db
            .read(move |conn| table::load_all(conn, modules_only))
            .await?;
        let twins: Vec<Value> = if q.modules {
            let by_id: std::collections::HashMap<String, Device> = devices
                .into_iter()
                .map(|d| (d.device_id.clone(), d))
                .collect();
            self.hub
                .modules()
                .list_all()
                .await?
                .into_iter()
                .filter_map(|m| {
                    let device = by_id.get(&m.device_id)?.clone();
                    let state = states
                        .remove(&(m.device_id.clone(), m.module_id.clone()))
                        .unwrap_or_else(|| TwinState::fresh(m.created_time));
                    Some(
                        Twin {
                            device,
                            module: Some(m),
                            state,
                        }
                        .to_json(),
                    )
                })
                .collect()
        } else {
            devices
                .into_iter()
                .map(|device| {
                    let state = states
                        .remove(&(device.device_id.clone(), String::new()))
                        .unwrap_or_else(|| TwinState::fresh(device.created_time));
                    Twin {
                        device,
                        module: None,
                        state,
                    }
                    .to_json()
                })
                .collect()
        };
        query::run(text, &q, &twins, page_size, continuation)
    }

    /// Stores the IoT Plug and Play model id a device (or module)
    /// announced (its twin's `modelId`); IoT Hub keeps the last one given.
    /// No version changes.
    pub async fn set_model_id(&self, id: &str, model_id: &str) -> HubResult<()> {
        if model_id.len() > 512 {
            return Err(HubError::invalid("a model id is at most 512 characters"));
        }
        let who = Identity::parse(id)?;
        let model = model_id.to_string();
        self.hub
            .inner
            .db
            .write(move |ctx| {
                let mut t = load_existing(ctx.conn, &who)?;
                if t.model_id != model {
                    t.model_id = model.clone();
                    table::save(ctx.conn, who.device.as_str(), who.module_str(), &t)?;
                }
                Ok(())
            })
            .await
    }

    /// A device's (or module's) reported-properties patch; returns the new
    /// reported `$version`. Nothing changes on any error (400004 for a bad
    /// patch).
    pub async fn report(&self, id: &str, patch: Value, via: &str) -> HubResult<u64> {
        let Value::Object(patch) = patch else {
            return Err(HubError::invalid(
                "a reported-properties patch must be a JSON object",
            ));
        };
        doc::validate_patch(SectionKind::Reported, &patch)?;
        let who = Identity::parse(id)?;
        let key = who.key();
        let via = via.to_string();
        self.hub.touch(&key);
        self.hub
            .inner
            .db
            .write(move |ctx| {
                let mut t = load_existing(ctx.conn, &who)?;
                let mut doc = t.reported.doc.clone();
                let mut meta = t.reported.meta.clone();
                doc::merge(&mut doc, &mut meta, &patch, ctx.now, None);
                doc::validate_size(SectionKind::Reported, &doc)?;
                t.reported.doc = doc;
                t.reported.meta = meta;
                t.reported.version += 1;
                t.version += 1;
                table::save(ctx.conn, who.device.as_str(), who.module_str(), &t)?;
                ctx.trace(NewEvent::new(
                    key.as_str(),
                    TraceDetail::TwinUpdated(TwinUpdated {
                        by: TwinAuthor::Device,
                        op: TwinOp::Patch,
                        tags: None,
                        desired: None,
                        reported: Some(Value::Object(patch.clone())),
                        desired_version: t.desired.version,
                        reported_version: t.reported.version,
                        version: t.version,
                        via: Some(via.clone()),
                    }),
                ))?;
                Ok(t.reported.version)
            })
            .await
    }
}

/// The identity's stored twin inside a write: 404001 / 404010 when the
/// device or module is not registered.
fn load_existing(conn: &rusqlite::Connection, who: &Identity) -> HubResult<TwinState> {
    let created = match &who.module {
        None => crate::registry::table::get_required(conn, who.device.as_str())?.created,
        Some(m) => {
            crate::modules::table::get_required(conn, who.device.as_str(), m.as_str())?.created
        }
    };
    table::load(conn, who.device.as_str(), who.module_str(), created)
}

/// Applies a service write to `t`; returns the desired notification's body
/// (the change plus `$version`) when desired properties changed.
fn apply_service_write(
    t: &mut TwinState,
    op: TwinOp,
    w: &TwinWrite,
    now: Timestamp,
) -> HubResult<Option<Value>> {
    if let Some(tags) = &w.tags {
        let mut doc = match op {
            TwinOp::Patch => t.tags.clone().unwrap_or_default(),
            TwinOp::Replace => Map::new(),
        };
        let mut scratch = doc::MetaNode::new(now, None);
        doc::merge(&mut doc, &mut scratch, tags, now, None);
        doc::validate_size(SectionKind::Tags, &doc)?;
        t.tags = Some(doc);
    } else if op == TwinOp::Replace && t.tags.is_some() {
        t.tags = Some(Map::new());
    }
    let desired = match (op, &w.desired) {
        (TwinOp::Patch, None) => return Ok(None),
        (TwinOp::Patch, Some(p)) => p.clone(),
        // A replacement removes what the new document leaves out: the
        // device hears those keys as `null`.
        (TwinOp::Replace, p) => {
            let p = p.clone().unwrap_or_default();
            let mut full: Map<String, Value> = t
                .desired
                .doc
                .keys()
                .filter(|k| !p.contains_key(*k))
                .map(|k| (k.clone(), Value::Null))
                .collect();
            full.extend(p);
            full
        }
    };
    let version = t.desired.version + 1;
    let mut doc = t.desired.doc.clone();
    let mut meta = t.desired.meta.clone();
    if op == TwinOp::Replace {
        doc = Map::new();
        meta = doc::MetaNode::new(now, Some(version));
    }
    doc::merge(&mut doc, &mut meta, &desired, now, Some(version));
    doc::validate_size(SectionKind::Desired, &doc)?;
    t.desired = Section { doc, version, meta };
    let mut body = desired;
    body.insert("$version".into(), Value::from(version));
    Ok(Some(Value::Object(body)))
}

/// The etag an `If-Match` asks for, or `None` for "any" (`*`, `"*"`).
/// Quotes and a weak `W/` prefix are stripped.
fn etag_condition(h: &str) -> Option<String> {
    let h = h.trim();
    let h = h.strip_prefix("W/").unwrap_or(h);
    let h = h.trim_matches('"');
    (h != "*" && !h.is_empty()).then(|| h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_iot_hubs_big_endian_counter() {
        let t = TwinState::fresh(Timestamp(0));
        assert_eq!(t.etag(), "AAAAAAAAAAE=");
        assert_eq!(
            etag_condition("\"AAAAAAAAAAE=\"").as_deref(),
            Some("AAAAAAAAAAE=")
        );
        assert_eq!(etag_condition("W/\"x\"").as_deref(), Some("x"));
        assert_eq!(etag_condition("\"*\""), None);
        assert_eq!(etag_condition("*"), None);
    }

    #[test]
    fn a_replacement_nulls_what_it_leaves_out_for_the_device() {
        let mut t = TwinState::fresh(Timestamp(0));
        let first = TwinWrite {
            desired: Some(serde_json::from_value(json!({"a": 1, "b": 2})).unwrap_or_default()),
            ..Default::default()
        };
        apply_service_write(&mut t, TwinOp::Patch, &first, Timestamp(1)).ok();
        let put = TwinWrite {
            desired: Some(serde_json::from_value(json!({"b": 3})).unwrap_or_default()),
            ..Default::default()
        };
        let body = apply_service_write(&mut t, TwinOp::Replace, &put, Timestamp(2))
            .ok()
            .flatten();
        assert_eq!(body, Some(json!({"a": null, "b": 3, "$version": 3})));
        assert_eq!(Value::Object(t.desired.doc.clone()), json!({"b": 3}));
    }

    #[test]
    fn read_only_members_of_a_fetched_twin_are_ignored() {
        let w = TwinWrite::from_document(&json!({
            "deviceId": "d", "etag": "x", "version": 4,
            "tags": {"room": "lab"},
            "properties": {"desired": {"a": 1, "$metadata": {}, "$version": 3}, "reported": {"r": 1}}
        }))
        .unwrap_or_default();
        assert_eq!(w.tags, serde_json::from_value(json!({"room": "lab"})).ok());
        assert_eq!(w.desired, serde_json::from_value(json!({"a": 1})).ok());
    }
}
