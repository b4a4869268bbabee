//! The bench bridge: each saved board gets a task that finds its port,
//! attaches the board's device to the hub while the port is there, carries
//! frames both ways, logs every line, and reattaches when the board comes
//! back after an unplug, a reset or a re-enumeration.
//!
//! A board attaches as a trusted link (it is on the developer's own USB
//! port). While attached its device is connected: it receives C2D messages
//! (one at a time) and method calls. When the port vanishes or the board is
//! detached, method calls in flight fail at once and C2D messages wait in
//! the mailbox.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hublet_core::registry::DeviceUpdate;
use hublet_core::trace::{EventKind, NewEvent};
use hublet_core::{
    AttachRequest, Attachment, DetachReason, DeviceKind, Hub, HubError, HubResult, NewDevice,
    Telemetry, Timestamp, ToDevice,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use ts_rs::TS;

use crate::board::{BoardConfig, SerialSettings};
use crate::link::{self, Link, ReadEvent, WriteCmd};
use crate::ports::{self, Identity};
use crate::protocol::{self, BoardFrame, Line};

/// Namespace of saved boards in the hub's adapter state.
const STATE: &str = "serial";
/// Lines kept per board for a console opened later.
pub const CONSOLE_LINES: usize = 2000;
/// How often a missing board is looked for.
const SEARCH_EVERY: Duration = Duration::from_millis(500);
/// A board takes one C2D message at a time.
const C2D_WINDOW: usize = 1;
/// Reset pulse length.
const RESET_PULSE: Duration = Duration::from_millis(100);

/// One console line, in or out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConsoleLine {
    /// Host time when it arrived or was sent.
    #[ts(type = "string")]
    pub at: Timestamp,
    /// `in` (from the board) or `out` (to it).
    pub direction: String,
    /// The line as text, when it is UTF-8.
    pub text: Option<String>,
    /// The raw bytes in hex, when it is not.
    pub hex: Option<String>,
    /// It is a protocol frame.
    pub frame: bool,
}

/// What a board is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BoardStatus {
    /// Its device.
    pub device_id: String,
    /// How its port is recognised.
    pub identity: Identity,
    /// Words for the identity.
    pub identity_text: String,
    /// The port path while attached.
    pub path: Option<String>,
    /// `searching`, `attached`, `detached` or `error`.
    pub state: String,
    /// Why, for `error` and `detached`.
    pub reason: Option<String>,
    /// Since when.
    #[ts(type = "string | null")]
    pub since: Option<Timestamp>,
    /// Line settings.
    pub settings: SerialSettings,
    /// Lines received.
    #[ts(type = "number")]
    pub lines_in: u64,
    /// Lines sent.
    #[ts(type = "number")]
    pub lines_out: u64,
}

enum Cmd {
    Send(Vec<u8>, oneshot::Sender<HubResult<()>>),
    Reset(oneshot::Sender<HubResult<()>>),
    Detach(oneshot::Sender<HubResult<()>>),
    Reattach(oneshot::Sender<HubResult<()>>),
    Stop,
}

struct BoardHandle {
    cmd: mpsc::UnboundedSender<Cmd>,
    status: Arc<Mutex<BoardStatus>>,
    console: Arc<Mutex<VecDeque<ConsoleLine>>>,
    task: JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The bridge, shared by the API and the CLI through `hublet serve`.
#[derive(Clone)]
pub struct SerialBridge {
    hub: Hub,
    boards: Arc<Mutex<BTreeMap<String, BoardHandle>>>,
}

impl SerialBridge {
    /// A bridge with no boards yet.
    pub fn new(hub: Hub) -> SerialBridge {
        SerialBridge {
            hub,
            boards: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// The machine's serial ports.
    pub fn ports(&self) -> Vec<ports::PortInfo> {
        ports::available()
    }

    /// Binds `device` to the board on `port` and starts bridging it. The
    /// device is registered (kind `serialBoard`) if it does not exist. A USB
    /// port is remembered by its USB identity, anything else by its path.
    pub async fn attach(
        &self,
        port: &str,
        device: &str,
        settings: SerialSettings,
    ) -> HubResult<BoardStatus> {
        settings.validate().map_err(HubError::invalid)?;
        let identity = ports::available_async()
            .await
            .iter()
            .find(|p| p.path == port)
            .map(Identity::of)
            .unwrap_or_else(|| Identity::Path {
                path: port.to_string(),
            });
        match self.hub.registry().get(device).await {
            Ok(d) if d.kind != DeviceKind::SerialBoard => {
                let change = DeviceUpdate {
                    kind: Some(DeviceKind::SerialBoard),
                    ..DeviceUpdate::default()
                };
                self.hub.registry().update(device, change, None).await?;
            }
            Ok(_) => {}
            Err(HubError::DeviceNotFound(_)) => {
                let spec = NewDevice {
                    kind: DeviceKind::SerialBoard,
                    ..NewDevice::named(device)
                };
                self.hub.registry().create(spec).await?;
            }
            Err(e) => return Err(e),
        }
        let config = BoardConfig {
            device_id: device.to_string(),
            identity,
            settings,
            detached: false,
        };
        self.save(&config).await?;
        self.stop_task(device).await;
        self.spawn(config);
        self.status(device)
            .ok_or_else(|| HubError::Internal("board vanished".into()))
    }

    async fn save(&self, c: &BoardConfig) -> HubResult<()> {
        self.hub
            .adapter_state(STATE)
            .put(&c.device_id, serde_json::to_value(c)?)
            .await
    }

    /// Starts the boards saved by earlier runs.
    pub async fn restore(&self) -> HubResult<usize> {
        let mut n = 0;
        for (_, v) in self.hub.adapter_state(STATE).all().await? {
            if let Ok(c) = serde_json::from_value::<BoardConfig>(v) {
                self.spawn(c);
                n += 1;
            }
        }
        Ok(n)
    }

    fn spawn(&self, config: BoardConfig) {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(BoardStatus {
            device_id: config.device_id.clone(),
            identity_text: config.identity.describe(),
            identity: config.identity.clone(),
            path: None,
            state: if config.detached {
                "detached".into()
            } else {
                "searching".into()
            },
            reason: None,
            since: Some(self.hub.now()),
            settings: config.settings.clone(),
            lines_in: 0,
            lines_out: 0,
        }));
        let console = Arc::new(Mutex::new(VecDeque::new()));
        let task = Board {
            hub: self.hub.clone(),
            config: config.clone(),
            status: status.clone(),
            console: console.clone(),
            cmds: rx,
        };
        let task = tokio::spawn(task.run());
        lock(&self.boards).insert(
            config.device_id,
            BoardHandle {
                cmd: tx,
                status,
                console,
                task,
            },
        );
    }

    async fn stop_task(&self, device: &str) -> bool {
        let h = lock(&self.boards).remove(device);
        match h {
            Some(h) => {
                let _ = h.cmd.send(Cmd::Stop);
                let _ = h.task.await;
                true
            }
            None => false,
        }
    }

    /// Forgets a board: stops bridging and deletes the binding (the device stays).
    pub async fn forget(&self, device: &str) -> HubResult<()> {
        let was = self.stop_task(device).await;
        self.hub.adapter_state(STATE).remove(device).await?;
        if !was {
            return Err(HubError::invalid(format!(
                "'{device}' is not a serial board"
            )));
        }
        Ok(())
    }

    async fn command(
        &self,
        device: &str,
        make: impl FnOnce(oneshot::Sender<HubResult<()>>) -> Cmd,
    ) -> HubResult<()> {
        let tx = lock(&self.boards)
            .get(device)
            .map(|h| h.cmd.clone())
            .ok_or_else(|| HubError::invalid(format!("'{device}' is not a serial board")))?;
        let (reply, rx) = oneshot::channel();
        tx.send(make(reply))
            .map_err(|_| HubError::Internal("the board's task stopped".into()))?;
        rx.await
            .map_err(|_| HubError::Internal("the board's task stopped".into()))?
    }

    /// Releases the port (e.g. for a flashing tool) until [`SerialBridge::reattach`].
    pub async fn detach(&self, device: &str) -> HubResult<()> {
        self.set_detached(device, true).await?;
        self.command(device, Cmd::Detach).await
    }

    /// Takes the port back after [`SerialBridge::detach`].
    pub async fn reattach(&self, device: &str) -> HubResult<()> {
        self.set_detached(device, false).await?;
        self.command(device, Cmd::Reattach).await
    }

    async fn set_detached(&self, device: &str, detached: bool) -> HubResult<()> {
        let Some(v) = self.hub.adapter_state(STATE).get(device).await? else {
            return Err(HubError::invalid(format!(
                "'{device}' is not a serial board"
            )));
        };
        let mut c: BoardConfig = serde_json::from_value(v)?;
        c.detached = detached;
        self.save(&c).await
    }

    /// Writes raw bytes to the board (the caller adds any line ending).
    pub async fn send(&self, device: &str, bytes: Vec<u8>) -> HubResult<()> {
        self.command(device, |r| Cmd::Send(bytes, r)).await
    }

    /// Writes a line of text with the board's line ending.
    pub async fn send_line(&self, device: &str, text: &str) -> HubResult<()> {
        let ending = lock(&self.boards)
            .get(device)
            .map(|h| lock(&h.status).settings.clone())
            .ok_or_else(|| HubError::invalid(format!("'{device}' is not a serial board")))?
            .line_ending_bytes()
            .map_err(HubError::invalid)?;
        let mut b = text.as_bytes().to_vec();
        b.extend_from_slice(ending);
        self.send(device, b).await
    }

    /// Pulses RTS (with DTR released) to reset the board, as ESP32 and
    /// Arduino auto-reset circuits expect.
    pub async fn reset(&self, device: &str) -> HubResult<()> {
        self.command(device, Cmd::Reset).await
    }

    /// Every board and what it is doing.
    pub fn list(&self) -> Vec<BoardStatus> {
        lock(&self.boards)
            .values()
            .map(|h| lock(&h.status).clone())
            .collect()
    }

    /// One board.
    pub fn status(&self, device: &str) -> Option<BoardStatus> {
        lock(&self.boards)
            .get(device)
            .map(|h| lock(&h.status).clone())
    }

    /// The last lines (up to [`CONSOLE_LINES`]) in and out, oldest first,
    /// including the ones that arrived before anyone was watching.
    pub fn console(&self, device: &str) -> Option<Vec<ConsoleLine>> {
        lock(&self.boards)
            .get(device)
            .map(|h| lock(&h.console).iter().cloned().collect())
    }

    /// Stops every board task (hub shutdown); bindings are kept.
    pub async fn shutdown(&self) {
        let all: Vec<BoardHandle> = std::mem::take(&mut *lock(&self.boards))
            .into_values()
            .collect();
        for h in &all {
            let _ = h.cmd.send(Cmd::Stop);
        }
        for h in all {
            let _ = h.task.await;
        }
    }
}

/// One board's task.
struct Board {
    hub: Hub,
    config: BoardConfig,
    status: Arc<Mutex<BoardStatus>>,
    console: Arc<Mutex<VecDeque<ConsoleLine>>>,
    cmds: mpsc::UnboundedReceiver<Cmd>,
}

/// How a connected period ended.
enum End {
    Vanished(String),
    Detached,
    HubClosed(DetachReason),
    Stop,
}

impl Board {
    fn trace_port(&self, event: &str, detail: serde_json::Value) {
        let mut d = json!({"event": event, "identity": self.config.identity.describe()});
        if let (Some(o), Some(extra)) = (d.as_object_mut(), detail.as_object()) {
            o.extend(extra.clone());
        }
        self.hub
            .trace()
            .append(NewEvent::new(EventKind::SerialPort, self.config.device_id.as_str()).detail(d));
    }

    fn set_state(&self, state: &str, path: Option<String>, reason: Option<String>) {
        let now = self.hub.now();
        let mut s = lock(&self.status);
        if s.state != state || s.reason != reason {
            s.since = Some(now);
        }
        s.state = state.to_string();
        s.path = path;
        s.reason = reason;
    }

    fn remember(&self, line: ConsoleLine) {
        let mut c = lock(&self.console);
        if c.len() >= CONSOLE_LINES {
            c.pop_front();
        }
        c.push_back(line);
    }

    /// Handles a command while no port is open; `Some(true)` = stop, `Some(false)` = reattach.
    fn idle_command(&mut self, c: Cmd) -> Option<bool> {
        match c {
            Cmd::Stop => Some(true),
            Cmd::Reattach(r) => {
                self.config.detached = false;
                let _ = r.send(Ok(()));
                Some(false)
            }
            Cmd::Detach(r) => {
                self.config.detached = true;
                self.set_state("detached", None, Some("detached on request".into()));
                let _ = r.send(Ok(()));
                None
            }
            Cmd::Send(_, r) | Cmd::Reset(r) => {
                let _ = r.send(Err(HubError::DeviceNotOnline {
                    device: self.config.device_id.clone(),
                    connect_timeout_s: 0,
                }));
                None
            }
        }
    }

    async fn run(mut self) {
        let clock = self.hub.clock().clone();
        let mut seen_before = false;
        let mut last_error: Option<String> = None;
        loop {
            if self.config.detached {
                self.set_state("detached", None, Some("detached on request".into()));
                match self.cmds.recv().await {
                    None => return,
                    Some(c) => match self.idle_command(c) {
                        Some(true) => return,
                        _ => continue,
                    },
                }
            }
            let path = match ports::locate_async(&self.config.identity).await {
                Some(p) => p,
                None => {
                    self.set_state("searching", None, None);
                    tokio::select! {
                        _ = clock.sleep(SEARCH_EVERY) => continue,
                        c = self.cmds.recv() => match c {
                            None => return,
                            Some(c) => match self.idle_command(c) {
                                Some(true) => return,
                                _ => continue,
                            },
                        },
                    }
                }
            };
            let mut link = match link::open(&path, &self.config.settings, clock.clone()) {
                Ok(l) => l,
                Err(e) => {
                    if last_error.as_deref() != Some(e.as_str()) {
                        self.trace_port("openFailed", json!({"path": path, "error": e}));
                    }
                    self.set_state("error", None, Some(e.clone()));
                    last_error = Some(e);
                    tokio::select! {
                        _ = clock.sleep(Duration::from_secs(1)) => continue,
                        c = self.cmds.recv() => match c {
                            None => return,
                            Some(c) => match self.idle_command(c) {
                                Some(true) => return,
                                _ => continue,
                            },
                        },
                    }
                }
            };
            last_error = None;
            let request = AttachRequest::trusted(
                "serial",
                Some(path.clone()),
                format!("board on serial port {path}"),
            );
            let (att, rx) = match self.hub.attach(&self.config.device_id, request).await {
                Ok(a) => a,
                Err(e) => {
                    self.set_state("error", Some(path), Some(e.to_string()));
                    link.close().await;
                    tokio::select! {
                        _ = clock.sleep(Duration::from_secs(2)) => continue,
                        c = self.cmds.recv() => match c {
                            None => return,
                            Some(c) => match self.idle_command(c) {
                                Some(true) => return,
                                _ => continue,
                            },
                        },
                    }
                }
            };
            att.subscribe_methods();
            if let Err(e) = att.subscribe_c2d(C2D_WINDOW) {
                tracing::warn!("C2D subscription failed: {e}");
            }
            self.trace_port(
                if seen_before {
                    "reappeared"
                } else {
                    "attached"
                },
                json!({"path": path}),
            );
            seen_before = true;
            self.set_state("attached", Some(path.clone()), None);
            let end = self.connected(&att, rx, &mut link).await;
            link.close().await;
            match end {
                End::Stop => {
                    att.detach(DetachReason::Closed).await;
                    return;
                }
                End::Vanished(e) => {
                    self.trace_port("disappeared", json!({"path": path, "error": e}));
                    att.detach(DetachReason::ConnectionLost(format!(
                        "serial port {path} vanished: {e}"
                    )))
                    .await;
                }
                End::Detached => {
                    self.trace_port("detached", json!({"path": path}));
                    att.detach(DetachReason::Closed).await;
                    self.config.detached = true;
                }
                End::HubClosed(reason) => {
                    self.trace_port(
                        "released",
                        json!({"path": path, "reason": reason.describe()}),
                    );
                    self.config.detached = true;
                    drop(att);
                }
            }
        }
    }

    /// Carries everything while the port is open.
    async fn connected(
        &mut self,
        att: &Attachment,
        mut rx: mpsc::UnboundedReceiver<ToDevice>,
        link: &mut Link,
    ) -> End {
        let ending = self
            .config
            .settings
            .line_ending_bytes()
            .unwrap_or(b"\n")
            .to_vec();
        loop {
            tokio::select! {
                ev = link.events.recv() => match ev {
                    None => return End::Vanished("the reader stopped".into()),
                    Some(ReadEvent::Closed(e)) => return End::Vanished(e),
                    Some(ReadEvent::Line { bytes, at, partial }) => self.received(att, bytes, at, partial).await,
                },
                item = rx.recv() => match item {
                    Some(ToDevice::C2d(m)) => self.write_frame(link, &protocol::c2d_frame(&m), &ending, Some(&m.message_id), None),
                    Some(ToDevice::Method(r)) => {
                        let f = protocol::method_frame(&r.request_id, &r.method_name, &r.payload);
                        self.write_frame(link, &f, &ending, None, Some(&r.request_id));
                    }
                    Some(ToDevice::Close(reason)) => return End::HubClosed(reason),
                    None => return End::HubClosed(DetachReason::Dropped),
                },
                c = self.cmds.recv() => match c {
                    None | Some(Cmd::Stop) => return End::Stop,
                    Some(Cmd::Detach(r)) => {
                        let _ = r.send(Ok(()));
                        return End::Detached;
                    }
                    Some(Cmd::Reattach(r)) => {
                        let _ = r.send(Ok(()));
                    }
                    Some(Cmd::Send(bytes, r)) => {
                        self.log_out(&bytes, false, None, None);
                        let ok = link.write(WriteCmd::Bytes(bytes));
                        let _ = r.send(if ok { Ok(()) } else { Err(HubError::Internal("the port's writer stopped".into())) });
                    }
                    Some(Cmd::Reset(r)) => {
                        link.write(WriteCmd::Lines { dtr: Some(false), rts: Some(true) });
                        self.hub.clock().sleep(RESET_PULSE).await;
                        link.write(WriteCmd::Lines { dtr: None, rts: Some(false) });
                        self.trace_port("reset", json!({"pulseMs": RESET_PULSE.as_millis() as u64}));
                        let _ = r.send(Ok(()));
                    }
                },
            }
        }
    }

    fn write_frame(
        &self,
        link: &Link,
        frame: &str,
        ending: &[u8],
        message_id: Option<&str>,
        request_id: Option<&str>,
    ) {
        let mut b = frame.as_bytes().to_vec();
        b.extend_from_slice(ending);
        self.log_out(frame.as_bytes(), true, message_id, request_id);
        link.write(WriteCmd::Bytes(b));
    }

    fn log_out(
        &self,
        bytes: &[u8],
        frame: bool,
        message_id: Option<&str>,
        request_id: Option<&str>,
    ) {
        let now = self.hub.now();
        let (text, hex) = text_or_hex(bytes);
        lock(&self.status).lines_out += 1;
        self.remember(ConsoleLine {
            at: now,
            direction: "out".into(),
            text: text.clone(),
            hex: hex.clone(),
            frame,
        });
        let mut ev = NewEvent::new(EventKind::SerialSent, self.config.device_id.as_str());
        if let Some(m) = message_id {
            ev = ev.message(m);
        }
        if let Some(r) = request_id {
            ev = ev.request(r);
        }
        self.hub
            .trace()
            .append(ev.detail(json!({"text": text, "hex": hex, "frame": frame, "sentAt": now})));
    }

    /// One line from the board: logged, and acted on if it is a frame.
    async fn received(&mut self, att: &Attachment, bytes: Vec<u8>, at: Timestamp, partial: bool) {
        lock(&self.status).lines_in += 1;
        let parsed = protocol::parse(&bytes);
        let (text, hex) = text_or_hex(&bytes);
        let frame = matches!(parsed, Line::Frame(_));
        let warning = match &parsed {
            Line::Malformed(w) => Some(format!("looks like a frame but is not: {w}")),
            _ => None,
        };
        self.remember(ConsoleLine {
            at,
            direction: "in".into(),
            text: text.clone(),
            hex: hex.clone(),
            frame,
        });
        self.hub.trace().append(
            NewEvent::new(EventKind::SerialLine, self.config.device_id.as_str()).detail(json!({
                "text": text,
                "hex": hex,
                "frame": frame,
                "partial": partial,
                "warning": warning,
                "receivedAt": at,
            })),
        );
        att.touch();
        let Line::Frame(f) = parsed else { return };
        let warn = |what: String| {
            self.hub.trace().append(
                NewEvent::new(EventKind::DeviceProtocol, self.config.device_id.as_str())
                    .detail(json!({"via": "serial", "what": what})),
            );
        };
        match f {
            BoardFrame::Done(lock) => {
                if let Err(e) = att.complete(&lock).await {
                    warn(format!("DONE {lock}: {e}"));
                }
            }
            BoardFrame::Abandon(lock) => {
                if let Err(e) = att.abandon(&lock).await {
                    warn(format!("ABANDON {lock}: {e}"));
                }
            }
            BoardFrame::Reject(lock) => {
                if let Err(e) = att.reject(&lock).await {
                    warn(format!("REJECT {lock}: {e}"));
                }
            }
            BoardFrame::Result {
                request_id,
                status,
                payload,
            } => {
                att.respond(&request_id, status, payload.as_bytes());
            }
            BoardFrame::Telemetry { properties, body } => {
                let t = Telemetry::from_properties(properties, body);
                if let Err(e) = att.telemetry(t) {
                    warn(format!("TELEMETRY: {e}"));
                }
            }
            BoardFrame::Hello {
                device_id,
                firmware,
            } => {
                if device_id != self.config.device_id {
                    warn(format!(
                        "the board says it is '{device_id}' but is bound to '{}'",
                        self.config.device_id
                    ));
                }
                att.protocol_event(
                    "hello",
                    json!({"deviceId": device_id, "firmware": firmware}),
                );
            }
        }
    }
}

/// UTF-8 text, or hex for bytes that are not.
fn text_or_hex(bytes: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(t) => (Some(t.to_string()), None),
        Err(_) => (
            None,
            Some(
                bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
    }
}
