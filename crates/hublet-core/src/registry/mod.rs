//! The device registry: identities, keys, status, and connection strings.
//!
//! Stored fields live in the `devices` table ([`table`]); connection state
//! and last activity come from the live attachments ([`crate::attach`]), and
//! the C2D queue count from the mailbox, so a [`Device`] is always current.

pub(crate) mod table;

use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::attach::DetachReason;
use crate::auth::{self, Permission, Policy, connection_string};
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::hub::Hub;
use crate::ids::DeviceId;
use crate::trace::detail::{DeviceChanged, DeviceCreated, DeviceDeleted};
use crate::trace::{NewEvent, TraceDetail};
use table::DeviceRow;

/// Whether a device may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum DeviceStatus {
    /// The device may connect.
    #[default]
    Enabled,
    /// The device is refused and disconnected.
    Disabled,
}

impl DeviceStatus {
    /// `enabled` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Enabled => "enabled",
            DeviceStatus::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing the device is, so the app can show and manage it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum DeviceKind {
    /// A real device that connects itself (MQTT or HTTP).
    #[default]
    Standard,
    /// A simulated device run by Hublet.
    Simulated,
    /// A board attached over USB / serial through the bench bridge.
    SerialBoard,
}

impl DeviceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Standard => "standard",
            DeviceKind::Simulated => "simulated",
            DeviceKind::SerialBoard => "serialBoard",
        }
    }

    fn from_db(s: &str) -> DeviceKind {
        match s {
            "simulated" => DeviceKind::Simulated,
            "serialBoard" => DeviceKind::SerialBoard,
            _ => DeviceKind::Standard,
        }
    }
}

/// Connected or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum ConnectionState {
    /// A transport has the device attached.
    Connected,
    /// No transport has the device attached.
    Disconnected,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionState::Connected => "Connected",
            ConnectionState::Disconnected => "Disconnected",
        })
    }
}

/// A device with its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// The id.
    pub device_id: String,
    /// Changes when a device is deleted and re-created with the same id.
    pub generation_id: String,
    /// Changes on every update; send it back in `If-Match`.
    pub etag: String,
    /// Enabled or disabled.
    pub status: DeviceStatus,
    /// Why the status was set.
    pub status_reason: Option<String>,
    /// When the status last changed.
    pub status_updated_time: Timestamp,
    /// Primary symmetric key (base64).
    pub primary_key: String,
    /// Secondary symmetric key (base64).
    pub secondary_key: String,
    /// Standard, simulated or serial board.
    pub kind: DeviceKind,
    /// When the device was registered.
    pub created_time: Timestamp,
    /// Connected or disconnected, now.
    pub connection_state: ConnectionState,
    /// When the connection state last changed (creation time if never connected).
    pub connection_state_updated_time: Timestamp,
    /// The transport holding the device (`mqtt`, `http`, `serial`, ...), when connected.
    pub transport: Option<String>,
    /// Last time the device did anything.
    pub last_activity_time: Option<Timestamp>,
    /// Messages in its C2D queue (Enqueued plus Invisible).
    pub cloud_to_device_message_count: u32,
    /// The IoT Plug and Play model id it announced when it last connected
    /// (`""` if none).
    pub model_id: String,
}

/// What to register.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewDevice {
    /// The id (validated).
    pub device_id: String,
    /// Initial status (enabled by default).
    pub status: DeviceStatus,
    /// Why, if disabled.
    pub status_reason: Option<String>,
    /// A key to use instead of a generated one.
    pub primary_key: Option<String>,
    /// A key to use instead of a generated one.
    pub secondary_key: Option<String>,
    /// What kind of device this is.
    pub kind: DeviceKind,
}

impl NewDevice {
    /// A standard, enabled device with generated keys.
    pub fn named(id: impl Into<String>) -> NewDevice {
        NewDevice {
            device_id: id.into(),
            ..NewDevice::default()
        }
    }
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeviceUpdate {
    /// New status.
    pub status: Option<DeviceStatus>,
    /// New status reason.
    pub status_reason: Option<String>,
    /// New primary key.
    pub primary_key: Option<String>,
    /// New secondary key.
    pub secondary_key: Option<String>,
    /// New kind.
    pub kind: Option<DeviceKind>,
}

/// Which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// The primary key.
    Primary,
    /// The secondary key.
    Secondary,
}

/// A page of the device list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeviceQuery {
    /// Only ids containing this text (case-insensitive).
    pub search: Option<String>,
    /// Only ids after this one (paging).
    pub after: Option<String>,
    /// At most this many (default 1000).
    pub limit: Option<usize>,
}

/// IoT Hub style etag: base64 of the version number.
pub(crate) fn etag_of(version: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(version.to_string())
}

/// A generation id shaped like IoT Hub's (18 digits, .NET ticks).
pub(crate) fn new_generation_id(now: Timestamp) -> String {
    let ticks = now
        .0
        .saturating_mul(10_000)
        .saturating_add(621_355_968_000_000_000);
    let jitter: i64 = rand::rng().random_range(0..10_000);
    (ticks + jitter).to_string()
}

fn check_if_match(row: &DeviceRow, if_match: Option<&str>) -> HubResult<()> {
    check_etag(row.version, if_match)
}

/// 412001 unless `if_match` is absent, `*`, or the etag of `version`.
pub(crate) fn check_etag(version: i64, if_match: Option<&str>) -> HubResult<()> {
    if let Some(given) = if_match
        .map(|g| g.trim().trim_matches('"'))
        .filter(|g| *g != "*")
    {
        let current = etag_of(version);
        if given != current {
            return Err(HubError::PreconditionFailed {
                given: given.to_string(),
                current,
            });
        }
    }
    Ok(())
}

/// The registry, reached through [`Hub::registry`].
pub struct Registry<'a> {
    pub(crate) hub: &'a Hub,
}

impl Registry<'_> {
    fn to_device(&self, row: DeviceRow, queue: u32, model_id: String) -> Device {
        let p = self.hub.inner.presence.snapshot(&row.device_id);
        let last_activity = match (row.last_activity, p.last_activity) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Device {
            etag: etag_of(row.version),
            connection_state: if p.transport.is_some() {
                ConnectionState::Connected
            } else {
                ConnectionState::Disconnected
            },
            connection_state_updated_time: p.changed.unwrap_or(row.created).max(row.created),
            transport: p.transport,
            last_activity_time: last_activity,
            cloud_to_device_message_count: queue,
            model_id,
            device_id: row.device_id,
            generation_id: row.generation_id,
            status: row.status,
            status_reason: row.status_reason,
            status_updated_time: row.status_updated,
            primary_key: row.primary_key,
            secondary_key: row.secondary_key,
            kind: row.kind,
            created_time: row.created,
        }
    }

    /// Registers a device. Fails with 409001 if the id exists.
    pub async fn create(&self, spec: NewDevice) -> HubResult<Device> {
        let id = DeviceId::new(spec.device_id)?;
        let (primary_key, secondary_key) =
            auth::keys_or_generated(spec.primary_key.as_ref(), spec.secondary_key.as_ref())?;
        let row = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                let row = DeviceRow {
                    device_id: id.to_string(),
                    generation_id: new_generation_id(ctx.now),
                    version: 1,
                    status: spec.status,
                    status_reason: spec.status_reason.clone(),
                    status_updated: ctx.now,
                    primary_key: primary_key.clone(),
                    secondary_key: secondary_key.clone(),
                    kind: spec.kind,
                    created: ctx.now,
                    last_activity: None,
                };
                table::insert(ctx.conn, &row)?;
                let detail = TraceDetail::DeviceCreated(DeviceCreated {
                    kind: row.kind,
                    status: row.status,
                    generation_id: row.generation_id.clone(),
                });
                ctx.trace(NewEvent::new(id.as_str(), detail))?;
                Ok(row)
            })
            .await?;
        Ok(self.to_device(row, 0, String::new()))
    }

    /// One device. Fails with 404001 if unknown.
    pub async fn get(&self, id: &str) -> HubResult<Device> {
        let id = DeviceId::new(id)?;
        let (row, queue, model) = self
            .hub
            .inner
            .db
            .read(move |conn| {
                let row = table::get_required(conn, id.as_str())?;
                let queue = crate::mailbox::table::count(conn, id.as_str())?;
                let model = table::model_id(conn, id.as_str())?;
                Ok((row, queue, model))
            })
            .await?;
        Ok(self.to_device(row, queue, model))
    }

    /// Devices in id order, optionally filtered by a substring of the id.
    pub async fn list(&self, q: DeviceQuery) -> HubResult<Vec<Device>> {
        let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
        let rows = self
            .hub
            .inner
            .db
            .read(move |conn| table::list(conn, q.search.as_deref(), q.after.as_deref(), limit))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(r, n, model)| self.to_device(r, n, model))
            .collect())
    }

    /// Changes a device. With `if_match`, fails with 412001 unless it is the current etag.
    /// Disabling a device disconnects it.
    pub async fn update(
        &self,
        id: &str,
        change: DeviceUpdate,
        if_match: Option<&str>,
    ) -> HubResult<Device> {
        let id = DeviceId::new(id)?;
        for k in [&change.primary_key, &change.secondary_key]
            .into_iter()
            .flatten()
        {
            auth::validate_key(k)?;
        }
        let if_match = if_match.map(str::to_string);
        let key = id.to_string();
        let (row, queue, model) = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                let mut row = table::get_required(ctx.conn, &key)?;
                check_if_match(&row, if_match.as_deref())?;
                let before = row.clone();
                if let Some(s) = change.status
                    && s != row.status
                {
                    row.status = s;
                    row.status_updated = ctx.now;
                }
                if change.status_reason.is_some() {
                    row.status_reason = change.status_reason.clone();
                }
                if let Some(k) = &change.primary_key {
                    row.primary_key = k.clone();
                }
                if let Some(k) = &change.secondary_key {
                    row.secondary_key = k.clone();
                }
                if let Some(k) = change.kind {
                    row.kind = k;
                }
                if row != before {
                    row.version += 1;
                    table::update(ctx.conn, &row)?;
                    let changed = DeviceChanged {
                        status: row.status,
                        status_reason: row.status_reason.clone(),
                        keys_changed: before.primary_key != row.primary_key
                            || before.secondary_key != row.secondary_key,
                        etag: etag_of(row.version),
                    };
                    let detail = match (before.status, row.status) {
                        (DeviceStatus::Enabled, DeviceStatus::Disabled) => {
                            TraceDetail::DeviceDisabled(changed)
                        }
                        (DeviceStatus::Disabled, DeviceStatus::Enabled) => {
                            TraceDetail::DeviceEnabled(changed)
                        }
                        _ => TraceDetail::DeviceUpdated(changed),
                    };
                    ctx.trace(NewEvent::new(key.as_str(), detail))?;
                }
                let queue = crate::mailbox::table::count(ctx.conn, &key)?;
                let model = table::model_id(ctx.conn, &key)?;
                Ok((row, queue, model))
            })
            .await?;
        if row.status == DeviceStatus::Disabled {
            self.hub
                .detach_device(id.as_str(), DetachReason::Disabled)
                .await;
        }
        Ok(self.to_device(row, queue, model))
    }

    /// Enables or disables a device.
    pub async fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<String>,
    ) -> HubResult<Device> {
        let status = if enabled {
            DeviceStatus::Enabled
        } else {
            DeviceStatus::Disabled
        };
        self.update(
            id,
            DeviceUpdate {
                status: Some(status),
                status_reason: reason,
                ..DeviceUpdate::default()
            },
            None,
        )
        .await
    }

    /// Replaces one key with a fresh random one.
    pub async fn regenerate_key(&self, id: &str, which: KeyKind) -> HubResult<Device> {
        let mut change = DeviceUpdate::default();
        match which {
            KeyKind::Primary => change.primary_key = Some(auth::generate_key()),
            KeyKind::Secondary => change.secondary_key = Some(auth::generate_key()),
        }
        self.update(id, change, None).await
    }

    /// Deletes a device with its C2D queue, its feedback not yet batched,
    /// its modules and twins (as IoT Hub does), and disconnects it and its
    /// modules.
    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> HubResult<()> {
        let id = DeviceId::new(id)?;
        let key = id.to_string();
        let if_match = if_match.map(str::to_string);
        let modules = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                let row = table::get_required(ctx.conn, &key)?;
                check_if_match(&row, if_match.as_deref())?;
                let modules = crate::modules::table::list(ctx.conn, Some(&key))?;
                let messages = crate::mailbox::table::delete_all(ctx.conn, &key)?;
                let feedback = crate::feedback::table::drop_pending_for_device(ctx.conn, &key)?;
                crate::adapter::table::remove_device(ctx.conn, &key)?;
                table::delete(ctx.conn, &key)?;
                let detail = TraceDetail::DeviceDeleted(DeviceDeleted {
                    dropped_messages: u32::try_from(messages).unwrap_or(u32::MAX),
                    dropped_feedback_records: u32::try_from(feedback).unwrap_or(u32::MAX),
                    generation_id: row.generation_id.clone(),
                });
                ctx.trace(NewEvent::new(key.as_str(), detail))?;
                Ok(modules)
            })
            .await?;
        self.hub
            .detach_device(id.as_str(), DetachReason::Deleted)
            .await;
        // Its modules went with it (a trigger): their connections end too.
        for m in modules {
            self.hub
                .detach_device(
                    &format!("{}/{}", m.device_id, m.module_id),
                    DetachReason::Deleted,
                )
                .await;
        }
        Ok(())
    }

    /// The device's connection string, with `GatewayHostName` when `gateway`
    /// (the address devices dial) differs from the hub name.
    pub async fn connection_string(&self, id: &str, gateway: Option<&str>) -> HubResult<String> {
        let d = self.get(id).await?;
        let hub_name = self.hub.settings().hub_name.clone();
        Ok(connection_string::device(
            &hub_name,
            &d.device_id,
            &d.primary_key,
            gateway,
        ))
    }

    /// A SAS token for the device, signed with one of its keys, valid for
    /// `ttl` from now, for the resource `{hub name}/devices/{id}` (as the
    /// device SDKs make it). Returns the token and its expiry.
    pub async fn device_sas_token(
        &self,
        id: &str,
        key: KeyKind,
        ttl: std::time::Duration,
    ) -> HubResult<(String, Timestamp)> {
        let d = self.get(id).await?;
        let key = match key {
            KeyKind::Primary => &d.primary_key,
            KeyKind::Secondary => &d.secondary_key,
        };
        let host = self.hub.settings().hub_name.clone();
        self.sign(&format!("{host}/devices/{}", d.device_id), key, None, ttl)
    }

    /// A SAS token for a shared access policy (default `iothubowner`),
    /// valid for `ttl` from now, for the resource `host` (default: the hub
    /// name), as the service SDKs make it.
    pub fn service_sas_token(
        &self,
        policy: Option<&str>,
        host: Option<&str>,
        ttl: std::time::Duration,
    ) -> HubResult<(String, Timestamp)> {
        let name = policy.unwrap_or("iothubowner");
        let policies = self.hub.policies();
        let p = policies.iter().find(|p| p.name == name).ok_or_else(|| {
            HubError::invalid_field("policy", format!("no shared access policy named '{name}'"))
        })?;
        let settings = self.hub.settings();
        self.sign(
            host.unwrap_or(&settings.hub_name),
            &p.primary_key,
            Some(&p.name),
            ttl,
        )
    }

    /// A SAS token for `resource` signed with `key`, valid for `ttl`.
    pub(crate) fn sign(
        &self,
        resource: &str,
        key: &str,
        key_name: Option<&str>,
        ttl: std::time::Duration,
    ) -> HubResult<(String, Timestamp)> {
        if ttl.is_zero() || ttl > std::time::Duration::from_secs(10 * 365 * 24 * 3600) {
            return Err(HubError::invalid_field(
                "ttl",
                "a token's lifetime must be between 1 second and 10 years",
            ));
        }
        let expiry = self.hub.now().plus(ttl);
        let token = crate::auth::sas::create(resource, key, key_name, expiry.unix_seconds())
            .map_err(|e| HubError::Internal(e.to_string()))?;
        Ok((token, expiry))
    }

    /// The shared access policies.
    pub fn policies(&self) -> Vec<Policy> {
        self.hub.policies().as_ref().clone()
    }

    /// A service connection string for `policy` (default `iothubowner`).
    /// `host` overrides the HostName (e.g. `localhost:8443` for the HTTPS listener).
    pub fn service_connection_string(
        &self,
        policy: Option<&str>,
        host: Option<&str>,
    ) -> HubResult<String> {
        let name = policy.unwrap_or("iothubowner");
        let policies = self.hub.policies();
        let p = policies
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| HubError::invalid(format!("no shared access policy named '{name}'")))?;
        let settings = self.hub.settings();
        Ok(connection_string::service(
            host.unwrap_or(&settings.hub_name),
            &p.name,
            &p.primary_key,
        ))
    }

    /// The Event Hub-compatible endpoint's connection string for `policy`
    /// (default `iothubowner`); `host` is the AMQP listener's address as
    /// readers dial it (no port on IoT Hub's 5671).
    pub fn events_connection_string(&self, policy: Option<&str>, host: &str) -> HubResult<String> {
        let name = policy.unwrap_or("iothubowner");
        let policies = self.hub.policies();
        let p = policies
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| HubError::invalid(format!("no shared access policy named '{name}'")))?;
        Ok(connection_string::events(
            host,
            &p.name,
            &p.primary_key,
            &self.hub.events().name(),
        ))
    }

    /// Whether a policy exists that grants `perm` (used by API docs and checks).
    pub fn policy_allows(&self, policy: &str, perm: Permission) -> bool {
        self.hub
            .policies()
            .iter()
            .any(|p| p.name == policy && p.permissions.contains(&perm))
    }
}
