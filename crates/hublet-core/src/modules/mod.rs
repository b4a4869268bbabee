//! Module identities: named identities under a device, each with its own
//! keys, connection string, connection and twin, as IoT Hub's modules.
//!
//! A module connects on its own (MQTT client id `{device}/{module}`,
//! SAS resource `{hub}/devices/{device}/modules/{module}`), has a module
//! twin and answers direct methods, and receives no C2D messages (IoT Hub
//! has no module mailbox). Its presence, trace and twin key is the
//! [`Identity`] key `device/module`. Deleting the device deletes its
//! modules and their twins (database triggers, `table`).

pub(crate) mod table;

use serde::{Deserialize, Serialize};

use crate::attach::DetachReason;
use crate::auth::{self, connection_string};
use crate::clock::Timestamp;
use crate::error::HubResult;
use crate::hub::Hub;
use crate::ids::{DeviceId, Identity};
use crate::registry::{ConnectionState, KeyKind, etag_of, new_generation_id};
use crate::trace::NewEvent;
use crate::trace::detail::{ModuleChanged, TraceDetail};
use table::ModuleRow;

/// A module with its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    /// The device it belongs to.
    pub device_id: String,
    /// The module's id.
    pub module_id: String,
    /// Changes when the module is deleted and re-created.
    pub generation_id: String,
    /// Changes on every update; send it back in `If-Match`.
    pub etag: String,
    /// Free text naming who manages it (IoT Edge writes `IotEdge`).
    pub managed_by: Option<String>,
    /// Primary symmetric key (base64).
    pub primary_key: String,
    /// Secondary symmetric key (base64).
    pub secondary_key: String,
    /// When it was created.
    pub created_time: Timestamp,
    /// Connected or disconnected, now.
    pub connection_state: ConnectionState,
    /// When the connection state last changed (creation time if never connected).
    pub connection_state_updated_time: Timestamp,
    /// The transport holding it, when connected.
    pub transport: Option<String>,
    /// Last time it did anything.
    pub last_activity_time: Option<Timestamp>,
}

/// What to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewModule {
    /// The id (a device id's rules).
    pub module_id: String,
    /// Who manages it.
    pub managed_by: Option<String>,
    /// A key to use instead of a generated one.
    pub primary_key: Option<String>,
    /// A key to use instead of a generated one.
    pub secondary_key: Option<String>,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ModuleUpdate {
    /// New primary key.
    pub primary_key: Option<String>,
    /// New secondary key.
    pub secondary_key: Option<String>,
    /// New `managedBy`.
    pub managed_by: Option<String>,
}

/// The modules, reached through [`Hub::modules`].
pub struct Modules<'a> {
    pub(crate) hub: &'a Hub,
}

impl Modules<'_> {
    fn to_module(&self, row: ModuleRow) -> Module {
        let key = format!("{}/{}", row.device_id, row.module_id);
        let p = self.hub.inner.presence.snapshot(&key);
        let last_activity = match (row.last_activity, p.last_activity) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Module {
            etag: etag_of(row.version),
            connection_state: if p.transport.is_some() {
                ConnectionState::Connected
            } else {
                ConnectionState::Disconnected
            },
            connection_state_updated_time: p.changed.unwrap_or(row.created).max(row.created),
            transport: p.transport,
            last_activity_time: last_activity,
            device_id: row.device_id,
            module_id: row.module_id,
            generation_id: row.generation_id,
            managed_by: row.managed_by,
            primary_key: row.primary_key,
            secondary_key: row.secondary_key,
            created_time: row.created,
        }
    }

    /// Creates a module on a registered device: 404001 for an unknown
    /// device, 409301 if the device has one with this id.
    pub async fn create(&self, device: &str, spec: NewModule) -> HubResult<Module> {
        let who = Identity::module(device, &spec.module_id)?;
        let (primary_key, secondary_key) =
            auth::keys_or_generated(spec.primary_key.as_ref(), spec.secondary_key.as_ref())?;
        let row = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                let dev = who.device.as_str();
                crate::registry::table::require(ctx.conn, dev)?;
                let row = ModuleRow {
                    device_id: dev.to_string(),
                    module_id: who.module_str().to_string(),
                    generation_id: new_generation_id(ctx.now),
                    version: 1,
                    primary_key: primary_key.clone(),
                    secondary_key: secondary_key.clone(),
                    managed_by: spec.managed_by.clone(),
                    created: ctx.now,
                    last_activity: None,
                };
                table::insert(ctx.conn, &row)?;
                ctx.trace(NewEvent::new(
                    dev,
                    TraceDetail::ModuleCreated(changed(&row, false)),
                ))?;
                Ok(row)
            })
            .await?;
        Ok(self.to_module(row))
    }

    /// One module: 404001 for an unknown device, 404010 for an unknown module.
    pub async fn get(&self, device: &str, module: &str) -> HubResult<Module> {
        let who = Identity::module(device, module)?;
        let row = self
            .hub
            .inner
            .db
            .read(move |conn| table::get_required(conn, who.device.as_str(), who.module_str()))
            .await?;
        Ok(self.to_module(row))
    }

    /// The device's modules in id order (404001 for an unknown device).
    pub async fn list(&self, device: &str) -> HubResult<Vec<Module>> {
        let dev = DeviceId::new(device)?;
        let rows = self
            .hub
            .inner
            .db
            .read(move |conn| {
                crate::registry::table::require(conn, dev.as_str())?;
                table::list(conn, Some(dev.as_str()))
            })
            .await?;
        Ok(rows.into_iter().map(|r| self.to_module(r)).collect())
    }

    /// Every module of every device (for queries over `devices.modules`).
    pub async fn list_all(&self) -> HubResult<Vec<Module>> {
        let rows = self
            .hub
            .inner
            .db
            .read(|conn| table::list(conn, None))
            .await?;
        Ok(rows.into_iter().map(|r| self.to_module(r)).collect())
    }

    /// Changes a module's keys or `managedBy`; with `if_match`, 412001
    /// unless it is the current etag. As for devices, a connection made
    /// with an old key stays until its token expires.
    pub async fn update(
        &self,
        device: &str,
        module: &str,
        change: ModuleUpdate,
        if_match: Option<&str>,
    ) -> HubResult<Module> {
        let who = Identity::module(device, module)?;
        for k in [&change.primary_key, &change.secondary_key]
            .into_iter()
            .flatten()
        {
            auth::validate_key(k)?;
        }
        let if_match = if_match.map(str::to_string);
        let w = who;
        let row = self
            .hub
            .inner
            .db
            .write(move |ctx| {
                let mut row = table::get_required(ctx.conn, w.device.as_str(), w.module_str())?;
                crate::registry::check_etag(row.version, if_match.as_deref())?;
                let before = row.clone();
                if let Some(k) = &change.primary_key {
                    row.primary_key = k.clone();
                }
                if let Some(k) = &change.secondary_key {
                    row.secondary_key = k.clone();
                }
                if change.managed_by.is_some() {
                    row.managed_by = change.managed_by.clone();
                }
                let keys_changed = before.primary_key != row.primary_key
                    || before.secondary_key != row.secondary_key;
                if row != before {
                    row.version += 1;
                    table::update(ctx.conn, &row)?;
                    ctx.trace(NewEvent::new(
                        w.device.as_str(),
                        TraceDetail::ModuleUpdated(changed(&row, keys_changed)),
                    ))?;
                }
                Ok(row)
            })
            .await?;
        Ok(self.to_module(row))
    }

    /// Replaces one key with a fresh random one.
    pub async fn regenerate_key(
        &self,
        device: &str,
        module: &str,
        which: KeyKind,
    ) -> HubResult<Module> {
        let mut change = ModuleUpdate::default();
        match which {
            KeyKind::Primary => change.primary_key = Some(auth::generate_key()),
            KeyKind::Secondary => change.secondary_key = Some(auth::generate_key()),
        }
        self.update(device, module, change, None).await
    }

    /// Deletes a module with its twin, and disconnects it.
    pub async fn delete(
        &self,
        device: &str,
        module: &str,
        if_match: Option<&str>,
    ) -> HubResult<()> {
        let who = Identity::module(device, module)?;
        let if_match = if_match.map(str::to_string);
        let w = who.clone();
        self.hub
            .inner
            .db
            .write(move |ctx| {
                let row = table::get_required(ctx.conn, w.device.as_str(), w.module_str())?;
                crate::registry::check_etag(row.version, if_match.as_deref())?;
                table::delete(ctx.conn, w.device.as_str(), w.module_str())?;
                ctx.trace(NewEvent::new(
                    w.device.as_str(),
                    TraceDetail::ModuleDeleted(changed(&row, false)),
                ))
            })
            .await?;
        self.hub
            .detach_device(&who.key(), DetachReason::Deleted)
            .await;
        Ok(())
    }

    /// The module's connection string (`…;DeviceId=…;ModuleId=…;SharedAccessKey=…`),
    /// with `GatewayHostName` when `gateway` differs from the hub name.
    pub async fn connection_string(
        &self,
        device: &str,
        module: &str,
        gateway: Option<&str>,
    ) -> HubResult<String> {
        let m = self.get(device, module).await?;
        let hub_name = self.hub.settings().hub_name.clone();
        Ok(connection_string::module(
            &hub_name,
            &m.device_id,
            &m.module_id,
            &m.primary_key,
            gateway,
        ))
    }

    /// A SAS token for the module, signed with one of its keys, for the
    /// resource `{hub}/devices/{d}/modules/{m}` (as the module clients make it).
    pub async fn sas_token(
        &self,
        device: &str,
        module: &str,
        key: KeyKind,
        ttl: std::time::Duration,
    ) -> HubResult<(String, Timestamp)> {
        let m = self.get(device, module).await?;
        let key = match key {
            KeyKind::Primary => &m.primary_key,
            KeyKind::Secondary => &m.secondary_key,
        };
        let host = self.hub.settings().hub_name.clone();
        self.hub.registry().sign(
            &format!("{host}/devices/{}/modules/{}", m.device_id, m.module_id),
            key,
            None,
            ttl,
        )
    }
}

fn changed(row: &ModuleRow, keys_changed: bool) -> ModuleChanged {
    ModuleChanged {
        module_id: row.module_id.clone(),
        managed_by: row.managed_by.clone(),
        generation_id: row.generation_id.clone(),
        etag: etag_of(row.version),
        keys_changed,
    }
}
