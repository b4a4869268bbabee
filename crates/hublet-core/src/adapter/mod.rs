//! Small per-device state that a transport must keep across restarts.
//!
//! The engine knows nothing of MQTT, yet the MQTT gateway must remember a
//! device's subscriptions when it connects with `clean_session = 0` (the
//! Azure Python SDK never subscribes again after reconnecting). Rather than
//! give each adapter its own file, the engine stores an opaque JSON value per
//! (namespace, device), in the same database, deleted with the device.

pub(crate) mod table;

use crate::error::HubResult;
use crate::hub::Hub;
use crate::ids::DeviceId;

/// One adapter's per-device state, reached through [`Hub::adapter_state`].
pub struct AdapterState<'a> {
    pub(crate) hub: &'a Hub,
    pub(crate) namespace: &'static str,
}

impl AdapterState<'_> {
    /// The stored value for `device`, if any.
    pub async fn get(&self, device: &str) -> HubResult<Option<serde_json::Value>> {
        let id = DeviceId::new(device)?;
        let ns = self.namespace;
        self.hub
            .inner
            .db
            .read(move |conn| table::get(conn, ns, id.as_str()))
            .await
    }

    /// Stores `value` for `device` (replacing any earlier one).
    pub async fn put(&self, device: &str, value: serde_json::Value) -> HubResult<()> {
        let id = DeviceId::new(device)?;
        let ns = self.namespace;
        self.hub
            .inner
            .db
            .write(move |ctx| {
                crate::registry::table::require(ctx.conn, id.as_str())?;
                table::put(ctx.conn, ns, id.as_str(), &value, ctx.now)
            })
            .await
    }

    /// Every stored value of this adapter, by device id.
    pub async fn all(&self) -> HubResult<Vec<(String, serde_json::Value)>> {
        let ns = self.namespace;
        self.hub
            .inner
            .db
            .read(move |conn| table::all(conn, ns))
            .await
    }

    /// Forgets the value for `device`.
    pub async fn remove(&self, device: &str) -> HubResult<()> {
        let id = DeviceId::new(device)?;
        let ns = self.namespace;
        self.hub
            .inner
            .db
            .write(move |ctx| table::remove(ctx.conn, ns, id.as_str()))
            .await
    }
}
