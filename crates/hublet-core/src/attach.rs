//! The one interface through which a transport attaches a device.
//!
//! Every edge (MQTT gateway, serial bridge, simulator, tests) connects a
//! device to the hub the same way:
//!
//! 1. [`Hub::attach`] with the device id and a [`Credential`]: the hub
//!    authenticates, replaces any earlier attachment of the same device
//!    (which receives [`ToDevice::Close`] with [`DetachReason::Replaced`]),
//!    and returns an [`Attachment`] plus the receiver of [`ToDevice`] items.
//! 2. The transport calls [`Attachment::subscribe_c2d`] and
//!    [`Attachment::subscribe_methods`] when the device asks for them, then
//!    forwards every [`ToDevice`] item to the device in its own wire format.
//! 3. What the device sends back goes through the attachment:
//!    [`Attachment::complete`] / [`Attachment::abandon`] / [`Attachment::reject`],
//!    [`Attachment::respond`] for method responses, [`Attachment::telemetry`].
//! 4. [`Attachment::detach`] with a reason when the connection ends
//!    (dropping the attachment detaches it too).
//!
//! No mailbox or method logic lives in a transport: it only translates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::hub::Hub;
use crate::ids::DeviceId;
use crate::mailbox::C2dMessage;
use crate::trace::{EventKind, NewEvent, body_preview};

/// How the device proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A SAS token (MQTT password, HTTP `Authorization`).
    SasToken(String),
    /// No token: the transport vouches for the device (a board on the
    /// developer's own USB port, a simulated device, or an explicit "open
    /// bench" setting). The reason is recorded in the trace.
    Trusted(String),
}

/// Who is attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachRequest {
    /// Short transport name shown to users: `mqtt`, `http`, `serial`, `sim`, ...
    pub transport: String,
    /// Where the device is (peer address, port path), for the trace.
    pub remote: Option<String>,
    /// The device's credential.
    pub credential: Credential,
}

impl AttachRequest {
    /// A request with a SAS token.
    pub fn sas(
        transport: impl Into<String>,
        remote: Option<String>,
        token: impl Into<String>,
    ) -> AttachRequest {
        AttachRequest {
            transport: transport.into(),
            remote,
            credential: Credential::SasToken(token.into()),
        }
    }

    /// A request the transport vouches for.
    pub fn trusted(
        transport: impl Into<String>,
        remote: Option<String>,
        reason: impl Into<String>,
    ) -> AttachRequest {
        AttachRequest {
            transport: transport.into(),
            remote,
            credential: Credential::Trusted(reason.into()),
        }
    }
}

/// Why an attachment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "camelCase")]
pub enum DetachReason {
    /// The device said goodbye (MQTT DISCONNECT, serial detach).
    Closed,
    /// The connection broke (socket error, port vanished).
    ConnectionLost(String),
    /// The device connected again elsewhere (IoT Hub 400027).
    Replaced,
    /// The device was disabled in the registry.
    Disabled,
    /// The device was deleted from the registry.
    Deleted,
    /// The SAS token the device connected with expired.
    TokenExpired,
    /// Nothing arrived within the keep-alive allowance.
    KeepAliveTimeout,
    /// The device broke a protocol rule.
    ProtocolViolation(String),
    /// The hub is shutting down.
    Shutdown,
    /// The transport dropped the attachment without saying why.
    Dropped,
}

impl DetachReason {
    /// A short stable name, e.g. `replaced`.
    pub fn name(&self) -> &'static str {
        match self {
            DetachReason::Closed => "closed",
            DetachReason::ConnectionLost(_) => "connectionLost",
            DetachReason::Replaced => "replaced",
            DetachReason::Disabled => "disabled",
            DetachReason::Deleted => "deleted",
            DetachReason::TokenExpired => "tokenExpired",
            DetachReason::KeepAliveTimeout => "keepAliveTimeout",
            DetachReason::ProtocolViolation(_) => "protocolViolation",
            DetachReason::Shutdown => "shutdown",
            DetachReason::Dropped => "dropped",
        }
    }

    /// Words for users.
    pub fn describe(&self) -> String {
        match self {
            DetachReason::Closed => "the device disconnected".into(),
            DetachReason::ConnectionLost(e) => format!("the connection was lost ({e})"),
            DetachReason::Replaced => "a new connection with the same device id replaced it".into(),
            DetachReason::Disabled => "the device was disabled".into(),
            DetachReason::Deleted => "the device was deleted".into(),
            DetachReason::TokenExpired => "its SAS token expired".into(),
            DetachReason::KeepAliveTimeout => "nothing arrived within 1.5 x its keep-alive".into(),
            DetachReason::ProtocolViolation(e) => format!("it broke a protocol rule: {e}"),
            DetachReason::Shutdown => "the hub is shutting down".into(),
            DetachReason::Dropped => "its transport went away".into(),
        }
    }
}

/// Which direct methods an attached device is subscribed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MethodFilter {
    /// None: calls find the device not online.
    #[default]
    None,
    /// Every method.
    All,
    /// Only these method names.
    Only(std::collections::BTreeSet<String>),
}

impl MethodFilter {
    /// Whether a call to `method` may be delivered.
    pub fn allows(&self, method: &str) -> bool {
        match self {
            MethodFilter::None => false,
            MethodFilter::All => true,
            MethodFilter::Only(names) => names.contains(method),
        }
    }
}

/// A direct-method request for the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRequest {
    /// Echo this in the response.
    pub request_id: String,
    /// The method name.
    pub method_name: String,
    /// The JSON payload as bytes (a null payload is the four bytes `null`).
    pub payload: Vec<u8>,
}

/// What the hub sends a transport for its device.
#[derive(Debug, Clone, PartialEq)]
pub enum ToDevice {
    /// Deliver this locked C2D message (settle it by its lock token).
    C2d(Box<C2dMessage>),
    /// Deliver this method request (answer with [`Attachment::respond`]).
    Method(MethodRequest),
    /// The hub ended the attachment: close the connection.
    Close(DetachReason),
}

/// A device-to-cloud message as a transport decoded it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Telemetry {
    /// `$.mid`.
    pub message_id: Option<String>,
    /// `$.cid`.
    pub correlation_id: Option<String>,
    /// `$.ct`.
    pub content_type: Option<String>,
    /// `$.ce`.
    pub content_encoding: Option<String>,
    /// Application properties (a bare key has no value).
    pub properties: BTreeMap<String, Option<String>>,
    /// The payload.
    pub body: Vec<u8>,
}

impl Telemetry {
    /// Telemetry from decoded message properties (a property bag): the
    /// system properties by their `$.` names, everything else as
    /// application properties. One mapping for every transport.
    pub fn from_properties(pairs: Vec<(String, Option<String>)>, body: Vec<u8>) -> Telemetry {
        let mut t = Telemetry {
            body,
            ..Telemetry::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "$.mid" => t.message_id = v,
                "$.cid" => t.correlation_id = v,
                "$.ct" => t.content_type = v,
                "$.ce" => t.content_encoding = v,
                _ => {
                    t.properties.insert(k, v);
                }
            }
        }
        t
    }
}

/// Largest device-to-cloud message (IoT Hub: 256 KB).
pub const MAX_TELEMETRY_BYTES: usize = 256 * 1024;

/// A method response as the device sent it, before parsing.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: i32,
    pub body: Vec<u8>,
}

/// A method call waiting for its response.
pub(crate) struct PendingCall {
    pub attachment: u64,
    pub reply: oneshot::Sender<HubResult<RawResponse>>,
}

struct Slot {
    id: u64,
    transport: String,
    remote: Option<String>,
    since: Timestamp,
    tx: mpsc::UnboundedSender<ToDevice>,
    methods: MethodFilter,
    c2d_window: Option<usize>,
    outstanding: HashSet<String>,
}

#[derive(Default)]
struct DeviceRuntime {
    slot: Option<Slot>,
    changed: Option<Timestamp>,
    last_activity: Option<Timestamp>,
    online: Arc<Notify>,
    c2d: Arc<Notify>,
    calls: HashMap<String, PendingCall>,
}

/// A device's live connection state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PresenceSnapshot {
    pub transport: Option<String>,
    pub changed: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
}

/// What ended an attachment: the slot and the calls it owed answers to.
pub(crate) struct Removed {
    transport: String,
    remote: Option<String>,
    since: Timestamp,
    tx: mpsc::UnboundedSender<ToDevice>,
    outstanding: HashSet<String>,
    calls: Vec<PendingCall>,
}

/// Why a call could not start.
pub(crate) enum CallStart {
    Started(mpsc::UnboundedSender<ToDevice>),
    NotOnline,
    TooMany,
}

/// In-memory connection state of every device. Never held across `.await`.
#[derive(Default)]
pub(crate) struct Presence {
    map: Mutex<HashMap<String, DeviceRuntime>>,
}

impl Presence {
    fn with<T>(&self, device: &str, f: impl FnOnce(&mut DeviceRuntime) -> T) -> T {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(device.to_string()).or_default())
    }

    pub(crate) fn snapshot(&self, device: &str) -> PresenceSnapshot {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(device)
            .map(|r| PresenceSnapshot {
                transport: r.slot.as_ref().map(|s| s.transport.clone()),
                changed: r.changed,
                last_activity: r.last_activity,
            })
            .unwrap_or_default()
    }

    pub(crate) fn connected_count(&self) -> usize {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|r| r.slot.is_some()).count()
    }

    pub(crate) fn online_notify(&self, device: &str) -> Arc<Notify> {
        self.with(device, |r| r.online.clone())
    }

    pub(crate) fn c2d_notify(&self, device: &str) -> Arc<Notify> {
        self.with(device, |r| r.c2d.clone())
    }

    /// Wakes the device's C2D pump (something in its queue changed).
    pub(crate) fn wake_c2d(&self, device: &str) {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = map.get(device) {
            r.c2d.notify_waiters();
        }
    }

    pub(crate) fn touch(&self, device: &str, now: Timestamp) {
        self.with(device, |r| r.last_activity = Some(now));
    }

    fn install(&self, device: &str, slot: Slot, now: Timestamp) -> Option<Removed> {
        let (old, online) = self.with(device, |r| {
            let old = r.slot.take().map(|s| {
                let calls = take_calls(&mut r.calls, s.id);
                removed(s, calls)
            });
            r.slot = Some(slot);
            r.changed = Some(now);
            r.last_activity = Some(now);
            (old, r.online.clone())
        });
        online.notify_waiters();
        old
    }

    pub(crate) fn remove(&self, device: &str, attachment: u64, now: Timestamp) -> Option<Removed> {
        let (out, online, c2d) = self.with(device, |r| {
            if r.slot.as_ref().map(|s| s.id) != Some(attachment) {
                return (None, r.online.clone(), r.c2d.clone());
            }
            let s = r.slot.take();
            r.changed = Some(now);
            let calls = take_calls(&mut r.calls, attachment);
            (
                s.map(|s| removed(s, calls)),
                r.online.clone(),
                r.c2d.clone(),
            )
        });
        online.notify_waiters();
        c2d.notify_waiters();
        out
    }

    /// The current attachment id of a device, if attached.
    pub(crate) fn current(&self, device: &str) -> Option<u64> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(device).and_then(|r| r.slot.as_ref().map(|s| s.id))
    }

    fn set_methods(&self, device: &str, attachment: u64, filter: MethodFilter) -> bool {
        let (ok, online) = self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment => {
                s.methods = filter;
                (true, r.online.clone())
            }
            _ => (false, r.online.clone()),
        });
        online.notify_waiters();
        ok
    }

    /// Sets the C2D window; returns true when the subscription is new (a pump must start).
    fn set_c2d(&self, device: &str, attachment: u64, window: Option<usize>) -> HubResult<bool> {
        let (started, c2d) = self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment => {
                let was = s.c2d_window.is_some();
                s.c2d_window = window;
                Ok((!was && window.is_some(), r.c2d.clone()))
            }
            _ => Err(HubError::invalid("this attachment has ended")),
        })?;
        c2d.notify_waiters();
        Ok(started)
    }

    /// How many more messages the pump of `attachment` may deliver now;
    /// `None` when the attachment or its C2D subscription has ended.
    pub(crate) fn c2d_room(&self, device: &str, attachment: u64) -> Option<usize> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get(device)?.slot.as_ref()?;
        if s.id != attachment {
            return None;
        }
        let w = s.c2d_window?;
        Some(w.saturating_sub(s.outstanding.len()))
    }

    /// Hands a locked message to the attachment; false if it has ended.
    pub(crate) fn deliver_c2d(&self, device: &str, attachment: u64, m: C2dMessage) -> bool {
        self.with(device, |r| match r.slot.as_mut() {
            Some(s) if s.id == attachment && s.c2d_window.is_some() => {
                let Some(token) = m.lock_token.clone() else {
                    return false;
                };
                if s.tx.send(ToDevice::C2d(Box::new(m))).is_err() {
                    return false;
                }
                s.outstanding.insert(token);
                true
            }
            _ => false,
        })
    }

    /// Forgets an outstanding lock (settled or expired) and wakes the pump.
    pub(crate) fn settled(&self, device: &str, token: &str) {
        let c2d = self.with(device, |r| {
            if let Some(s) = r.slot.as_mut() {
                s.outstanding.remove(token);
            }
            r.c2d.clone()
        });
        c2d.notify_waiters();
    }

    pub(crate) fn start_call(
        &self,
        device: &str,
        method: &str,
        rid: &str,
        reply: oneshot::Sender<HubResult<RawResponse>>,
        limit: usize,
    ) -> (CallStart, Option<oneshot::Sender<HubResult<RawResponse>>>) {
        self.with(device, |r| match r.slot.as_ref() {
            Some(s) if s.methods.allows(method) => {
                if r.calls.len() >= limit {
                    return (CallStart::TooMany, Some(reply));
                }
                r.calls.insert(
                    rid.to_string(),
                    PendingCall {
                        attachment: s.id,
                        reply,
                    },
                );
                (CallStart::Started(s.tx.clone()), None)
            }
            _ => (CallStart::NotOnline, Some(reply)),
        })
    }

    pub(crate) fn take_call(&self, device: &str, rid: &str) -> Option<PendingCall> {
        self.with(device, |r| r.calls.remove(rid))
    }

    pub(crate) fn forget(&self, device: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(device)
            .is_some_and(|r| r.slot.is_none() && r.calls.is_empty())
        {
            map.remove(device);
        }
    }

    pub(crate) fn attached(&self) -> Vec<(String, u64)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter_map(|(d, r)| r.slot.as_ref().map(|s| (d.clone(), s.id)))
            .collect()
    }
}

fn take_calls(calls: &mut HashMap<String, PendingCall>, attachment: u64) -> Vec<PendingCall> {
    let rids: Vec<String> = calls
        .iter()
        .filter(|(_, c)| c.attachment == attachment)
        .map(|(k, _)| k.clone())
        .collect();
    rids.into_iter().filter_map(|k| calls.remove(&k)).collect()
}

fn removed(s: Slot, calls: Vec<PendingCall>) -> Removed {
    Removed {
        transport: s.transport,
        remote: s.remote,
        since: s.since,
        tx: s.tx,
        outstanding: s.outstanding,
        calls,
    }
}

/// A device attached by a transport. Dropping it detaches the device.
pub struct Attachment {
    hub: Hub,
    device: String,
    id: u64,
    transport: String,
    token_expiry: Option<Timestamp>,
    done: bool,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("device", &self.device)
            .field("id", &self.id)
            .field("transport", &self.transport)
            .finish()
    }
}

impl Attachment {
    /// The attached device's id.
    pub fn device_id(&self) -> &str {
        &self.device
    }

    /// This attachment's number (unique for the hub's lifetime).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// When the SAS token used to attach expires (the hub detaches the
    /// device then, with [`DetachReason::TokenExpired`]).
    pub fn token_expiry(&self) -> Option<Timestamp> {
        self.token_expiry
    }

    /// The device subscribed to all direct methods: calls may now reach it.
    pub fn subscribe_methods(&self) {
        self.set_method_filter(MethodFilter::All);
    }

    /// The device unsubscribed from direct methods.
    pub fn unsubscribe_methods(&self) {
        self.set_method_filter(MethodFilter::None);
    }

    /// Which methods the device is subscribed to (a device may subscribe
    /// to single methods, e.g. `$iothub/methods/POST/reboot/#`); calls to
    /// other methods find it "not online" (404103).
    pub fn set_method_filter(&self, filter: MethodFilter) {
        if self
            .hub
            .inner
            .presence
            .set_methods(&self.device, self.id, filter)
        {
            self.hub.touch(&self.device);
        }
    }

    /// The device subscribed to C2D messages: the hub pushes its queue in
    /// order, with at most `window` messages unsettled at a time.
    pub fn subscribe_c2d(&self, window: usize) -> HubResult<()> {
        let window = window.max(1);
        if self
            .hub
            .inner
            .presence
            .set_c2d(&self.device, self.id, Some(window))?
        {
            crate::mailbox::pump::spawn(
                self.hub.clone(),
                self.device.clone(),
                self.id,
                self.transport.clone(),
            );
        }
        self.hub.touch(&self.device);
        Ok(())
    }

    /// The device unsubscribed from C2D messages (messages already handed
    /// out stay locked until settled or expired).
    pub fn unsubscribe_c2d(&self) -> HubResult<()> {
        self.hub
            .inner
            .presence
            .set_c2d(&self.device, self.id, None)
            .map(|_| ())
    }

    /// Completes a delivered message. 412002 if the lock is unknown or expired.
    pub async fn complete(&self, lock_token: &str) -> HubResult<()> {
        self.hub.touch(&self.device);
        self.hub.mailbox().complete(&self.device, lock_token).await
    }

    /// Abandons a delivered message. 412002 if the lock is unknown or expired.
    pub async fn abandon(&self, lock_token: &str) -> HubResult<()> {
        self.hub.touch(&self.device);
        self.hub
            .mailbox()
            .abandon(&self.device, lock_token)
            .await
            .map(|_| ())
    }

    /// Rejects a delivered message. 412002 if the lock is unknown or expired.
    pub async fn reject(&self, lock_token: &str) -> HubResult<()> {
        self.hub.touch(&self.device);
        self.hub.mailbox().reject(&self.device, lock_token).await
    }

    /// The device's answer to a method request. An answer for a call that
    /// already ended (timed out, or never existed) is traced and ignored;
    /// the return value says which happened.
    pub fn respond(&self, request_id: &str, status: i32, body: &[u8]) -> Responded {
        self.hub.touch(&self.device);
        self.hub
            .methods()
            .response(&self.device, request_id, status, body)
    }

    /// A device-to-cloud message. Over 256 KB is refused with 413001.
    pub fn telemetry(&self, t: Telemetry) -> HubResult<()> {
        if t.body.len() > MAX_TELEMETRY_BYTES {
            return Err(HubError::TooLarge {
                what: "the device-to-cloud message",
                size: t.body.len(),
                limit: MAX_TELEMETRY_BYTES,
            });
        }
        self.hub.touch(&self.device);
        self.hub.inner.db.append(
            NewEvent::new(EventKind::TelemetryReceived, self.device.as_str()).detail(json!({
                "via": self.transport,
                "messageId": t.message_id,
                "correlationId": t.correlation_id,
                "contentType": t.content_type,
                "contentEncoding": t.content_encoding,
                "properties": t.properties,
                "size": t.body.len(),
                "body": body_preview(&t.body, crate::mailbox::TRACE_BODY_LIMIT),
            })),
        );
        Ok(())
    }

    /// Records a protocol notice or violation for this device in the trace.
    pub fn protocol_event(&self, what: &str, detail: serde_json::Value) {
        self.hub.inner.db.append(
            NewEvent::new(EventKind::DeviceProtocol, self.device.as_str())
                .detail(json!({"via": self.transport, "what": what, "detail": detail})),
        );
    }

    /// Marks activity (any traffic from the device).
    pub fn touch(&self) {
        self.hub.touch(&self.device);
    }

    /// Ends the attachment. In-flight method calls fail at once; locks the
    /// device holds go back to the queue.
    pub async fn detach(mut self, reason: DetachReason) {
        self.done = true;
        self.hub
            .detach_attachment(&self.device, self.id, reason)
            .await;
    }

    /// True while this attachment is the device's current one.
    pub fn is_current(&self) -> bool {
        self.hub.inner.presence.current(&self.device) == Some(self.id)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let hub = self.hub.clone();
        let device = self.device.clone();
        let id = self.id;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                hub.detach_attachment(&device, id, DetachReason::Dropped)
                    .await
            });
        }
    }
}

/// What became of a method response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responded {
    /// It answered a waiting call.
    Delivered,
    /// No call was waiting for it (it timed out or never existed); it was traced and ignored.
    Late,
}

impl Hub {
    /// Attaches a device for a transport (see the module docs for the protocol).
    pub async fn attach(
        &self,
        device_id: &str,
        req: AttachRequest,
    ) -> HubResult<(Attachment, mpsc::UnboundedReceiver<ToDevice>)> {
        let id = DeviceId::new(device_id)?;
        let device = id.to_string();
        let token_expiry = match self.check_credential(&device, &req).await {
            Ok(exp) => exp,
            Err(e) => {
                self.inner.db.append(
                    NewEvent::new(EventKind::DeviceAuthFailed, device.as_str()).detail(json!({
                        "via": req.transport,
                        "remote": req.remote,
                        "code": e.code().number(),
                        "reason": e.to_string(),
                    })),
                );
                return Err(e);
            }
        };
        let now = self.now();
        let attachment_id = self.next_attachment_id();
        let (tx, rx) = mpsc::unbounded_channel();
        let slot = Slot {
            id: attachment_id,
            transport: req.transport.clone(),
            remote: req.remote.clone(),
            since: now,
            tx,
            methods: MethodFilter::None,
            c2d_window: None,
            outstanding: HashSet::new(),
        };
        let replaced = self.inner.presence.install(&device, slot, now);
        let was_replaced = replaced.is_some();
        if let Some(old) = replaced {
            self.finish_detach(&device, old, DetachReason::Replaced)
                .await;
        }
        self.inner.db.append(NewEvent::new(EventKind::DeviceAttached, device.as_str()).detail(json!({
            "via": req.transport,
            "remote": req.remote,
            "attachment": attachment_id,
            "replacedEarlierConnection": was_replaced,
            "trusted": match &req.credential { Credential::Trusted(why) => Some(why.as_str()), Credential::SasToken(_) => None },
            "tokenExpiry": token_expiry,
        })));
        if let Some(exp) = token_expiry {
            let hub = self.clone();
            let dev = device.clone();
            tokio::spawn(async move {
                let sleep = hub.inner.clock.sleep_until(exp);
                tokio::select! {
                    _ = sleep => hub.detach_attachment(&dev, attachment_id, DetachReason::TokenExpired).await,
                    _ = hub.shutdown_signal() => {}
                }
            });
        }
        Ok((
            Attachment {
                hub: self.clone(),
                device,
                id: attachment_id,
                transport: req.transport,
                token_expiry,
                done: false,
            },
            rx,
        ))
    }

    async fn check_credential(
        &self,
        device: &str,
        req: &AttachRequest,
    ) -> HubResult<Option<Timestamp>> {
        let row = match self.device_row(device).await {
            Ok(r) => r,
            Err(HubError::DeviceNotFound(_)) => {
                return Err(HubError::Unauthorized(format!(
                    "device '{device}' is not registered"
                )));
            }
            Err(e) => return Err(e),
        };
        if row.status == crate::registry::DeviceStatus::Disabled {
            return Err(HubError::Unauthorized(format!(
                "device '{device}' is disabled"
            )));
        }
        match &req.credential {
            Credential::Trusted(_) => Ok(None),
            Credential::SasToken(token) => {
                self.verify_device_token(&row, token)?;
                let t = crate::auth::sas::SasToken::parse(token)
                    .map_err(|e| HubError::Unauthorized(e.to_string()))?;
                Ok(Some(Timestamp(t.expiry.saturating_mul(1000))))
            }
        }
    }

    /// Ends the device's current attachment, whatever it is.
    pub(crate) async fn detach_device(&self, device: &str, reason: DetachReason) {
        let forget = reason == DetachReason::Deleted;
        if let Some(id) = self.inner.presence.current(device) {
            self.detach_attachment(device, id, reason).await;
        }
        if forget {
            self.inner.presence.forget(device);
        }
    }

    /// Ends one attachment if it is still current.
    pub(crate) async fn detach_attachment(
        &self,
        device: &str,
        attachment: u64,
        reason: DetachReason,
    ) {
        if let Some(r) = self.inner.presence.remove(device, attachment, self.now()) {
            self.finish_detach(device, r, reason).await;
        }
    }

    async fn finish_detach(&self, device: &str, r: Removed, reason: DetachReason) {
        for call in r.calls {
            let err = if reason == DetachReason::Replaced {
                HubError::ConnectionReplaced(device.to_string())
            } else {
                HubError::DeviceDisconnected {
                    device: device.to_string(),
                    reason: reason.describe(),
                }
            };
            let _ = call.reply.send(Err(err));
        }
        if !matches!(
            reason,
            DetachReason::Closed | DetachReason::ConnectionLost(_) | DetachReason::Dropped
        ) {
            let _ = r.tx.send(ToDevice::Close(reason.clone()));
        }
        let now = self.now();
        let tokens: Vec<String> = r.outstanding.into_iter().collect();
        let settings = self.settings();
        let dev = device.to_string();
        let since = r.since;
        let transport = r.transport.clone();
        let remote = r.remote.clone();
        let reason_json = json!({
            "reason": reason.name(),
            "description": reason.describe(),
            "via": transport,
            "remote": remote,
            "connectedMs": now.0 - since.0,
            "locksReleased": tokens.len(),
        });
        let result = self
            .inner
            .db
            .write(move |ctx| {
                for t in &tokens {
                    crate::mailbox::ops::release(
                        ctx,
                        &dev,
                        t,
                        crate::mailbox::ops::Release::Detached,
                        &settings,
                    )?;
                }
                crate::registry::table::set_last_activity(ctx.conn, &dev, ctx.now)?;
                ctx.trace(
                    NewEvent::new(EventKind::DeviceDetached, dev.as_str())
                        .detail(reason_json.clone()),
                )
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(device, "detach bookkeeping failed: {e}");
        }
        self.inner.presence.wake_c2d(device);
    }
}
