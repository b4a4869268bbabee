//! The bench bridge: each bound board gets a task that finds its port,
//! opens it, connects the board's device to the hub once the board speaks
//! the protocol, carries frames both ways, logs every line, and finds the
//! board again after an unplug, a reset or a re-enumeration.
//!
//! Words: a board is *bound* to a device (a saved binding, [`SerialBridge::bind`]);
//! its port can be *released* for another program and *reclaimed*; the
//! device is *attached* to the engine (connected) only while the port is
//! open and the board has spoken the protocol. A port that is open but
//! silent ([`BoardState::Opened`]) does not make the device look online.
//!
//! A board attaches as a trusted link (it is on the developer's own USB
//! port). While connected it receives C2D messages (one at a time) and
//! method calls. When the port vanishes or is released, method calls in
//! flight fail at once and C2D messages wait in the mailbox.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hublet_core::registry::DeviceUpdate;
use hublet_core::trace::detail::{
    DeviceProtocol, SerialLine, SerialPortChange, SerialPortEvent, SerialSent,
};
use hublet_core::trace::{NewEvent, TraceDetail};
use hublet_core::{
    AttachRequest, Attachment, DetachReason, DeviceKind, Hub, HubError, HubResult, NewDevice,
    Telemetry, Timestamp, ToDevice,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use ts_rs::TS;

use crate::board::{BoardConfig, SerialSettings};
use crate::link::{self, Link, ReadEvent, WriteCmd};
use crate::ports::{self, Identity};
use crate::protocol::{self, BoardFrame, Line};

/// Namespace of saved boards in the hub's adapter state.
const STATE: &str = "serial";
/// Lines a console shows when it opens (from the trace).
pub const CONSOLE_LINES: usize = 2000;
/// How often a missing board is looked for.
const SEARCH_EVERY: Duration = Duration::from_millis(500);
/// A board takes one C2D message at a time.
const C2D_WINDOW: usize = 1;
/// Reset pulse length.
const RESET_PULSE: Duration = Duration::from_millis(100);

/// Which way a console line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum LineDirection {
    /// From the board.
    In,
    /// To the board.
    Out,
}

/// One console line, in or out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConsoleLine {
    /// Host time when it arrived or was sent.
    pub at: Timestamp,
    /// From the board or to it.
    pub direction: LineDirection,
    /// The line as text; bytes that are not UTF-8 appear as `\xNN`.
    pub text: Option<String>,
    /// Every byte in hex, when the line is not valid UTF-8 (the raw bytes).
    pub hex: Option<String>,
    /// It is a protocol frame.
    pub frame: bool,
}

impl ConsoleLine {
    /// The line a `serial.line` or `serial.sent` event records.
    pub fn of(e: &hublet_core::TraceEvent) -> Option<ConsoleLine> {
        match &e.detail {
            TraceDetail::SerialLine(l) => Some(ConsoleLine {
                at: l.received_at,
                direction: LineDirection::In,
                text: l.text.clone(),
                hex: l.hex.clone(),
                frame: l.frame,
            }),
            TraceDetail::SerialSent(l) => Some(ConsoleLine {
                at: l.sent_at,
                direction: LineDirection::Out,
                text: l.text.clone(),
                hex: l.hex.clone(),
                frame: l.frame,
            }),
            _ => None,
        }
    }
}

/// What a bound board is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum BoardState {
    /// Its port is not there; looked for every 500 ms.
    Searching,
    /// The port is open but the board has not spoken the protocol yet
    /// (no HELLO or other frame): its device is not connected.
    Opened,
    /// The board speaks the protocol: its device is connected.
    Connected,
    /// The port was released on request (e.g. for a flashing tool).
    Released,
    /// The port cannot be opened (the reason says why); retried every second.
    Error,
}

impl std::fmt::Display for BoardState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BoardState::Searching => "searching",
            BoardState::Opened => "opened",
            BoardState::Connected => "connected",
            BoardState::Released => "released",
            BoardState::Error => "error",
        })
    }
}

impl BoardState {
    /// Words for users.
    pub fn describe(self) -> &'static str {
        match self {
            BoardState::Searching => "searching for its port",
            BoardState::Opened => "port open, no HELLO yet",
            BoardState::Connected => "connected",
            BoardState::Released => "port released",
            BoardState::Error => "port cannot be opened",
        }
    }
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
    /// The port path while open.
    pub path: Option<String>,
    /// What it is doing.
    pub state: BoardState,
    /// Why, for `error`, `released` and `opened`.
    pub reason: Option<String>,
    /// Since when.
    pub since: Option<Timestamp>,
    /// Line settings.
    pub settings: SerialSettings,
    /// Lines received.
    pub lines_in: u64,
    /// Lines sent.
    pub lines_out: u64,
}

enum Cmd {
    Send(Vec<u8>, oneshot::Sender<HubResult<()>>),
    Reset(oneshot::Sender<HubResult<()>>),
    Release(oneshot::Sender<HubResult<()>>),
    Reclaim(oneshot::Sender<HubResult<()>>),
    Stop,
}

struct BoardHandle {
    cmd: mpsc::UnboundedSender<Cmd>,
    status: Arc<Mutex<BoardStatus>>,
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
    ///
    /// A port that does not exist is refused at once, unless `wait` (then
    /// the board is searched for until it appears). The status returned is
    /// the board's after its first attempt to open the port (up to about a
    /// second), so a port that cannot be opened says why straight away.
    pub async fn bind(
        &self,
        port: &str,
        device: &str,
        settings: SerialSettings,
        wait: bool,
    ) -> HubResult<BoardStatus> {
        settings.validate().map_err(HubError::invalid)?;
        let listed = ports::available_async().await;
        let found = listed.iter().find(|p| p.path == port);
        if found.is_none() && !wait && !std::path::Path::new(port).exists() {
            return Err(HubError::invalid_field(
                "port",
                format!(
                    "there is no serial port at '{port}' (`hublet serial list` shows the ports; bind with --wait to wait for it to appear)"
                ),
            ));
        }
        let identity = found.map(Identity::of).unwrap_or_else(|| Identity::Path {
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
            released: false,
        };
        self.save(&config).await?;
        self.stop_task(device).await;
        self.spawn(config);
        // Real time, bounded: the port's first open attempt is immediate.
        for _ in 0..30 {
            match self.status(device) {
                // Searching with a reason: the first look found no port
                // (said at once, even when asked to wait for it).
                Some(s) if s.state != BoardState::Searching || s.reason.is_some() => return Ok(s),
                None => break,
                Some(_) => tokio::time::sleep(Duration::from_millis(40)).await,
            }
        }
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
            state: if config.released {
                BoardState::Released
            } else {
                BoardState::Searching
            },
            reason: None,
            since: Some(self.hub.now()),
            settings: config.settings.clone(),
            lines_in: 0,
            lines_out: 0,
        }));
        let task = Board {
            hub: self.hub.clone(),
            config: config.clone(),
            status: status.clone(),
            cmds: rx,
        };
        let task = tokio::spawn(task.run());
        lock(&self.boards).insert(
            config.device_id,
            BoardHandle {
                cmd: tx,
                status,
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

    /// Unbinds a board: stops bridging and deletes the binding (the device stays).
    pub async fn unbind(&self, device: &str) -> HubResult<()> {
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

    /// Releases the port (e.g. for a flashing tool) until [`SerialBridge::reclaim`];
    /// the device disconnects. Remembered across restarts.
    pub async fn release(&self, device: &str) -> HubResult<()> {
        self.set_released(device, true).await?;
        self.command(device, Cmd::Release).await
    }

    /// Takes the port back after [`SerialBridge::release`].
    pub async fn reclaim(&self, device: &str) -> HubResult<()> {
        self.set_released(device, false).await?;
        self.command(device, Cmd::Reclaim).await
    }

    async fn set_released(&self, device: &str, released: bool) -> HubResult<()> {
        let Some(v) = self.hub.adapter_state(STATE).get(device).await? else {
            return Err(HubError::invalid(format!(
                "'{device}' is not a serial board"
            )));
        };
        let mut c: BoardConfig = serde_json::from_value(v)?;
        c.released = released;
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

    /// The last `tail` lines in and out, oldest first, including the ones
    /// that arrived before anyone was watching. They are read from the
    /// trace, which keeps every line: there is no second copy. `None` when
    /// `device` is not a board.
    pub async fn console(&self, device: &str, tail: usize) -> HubResult<Option<Vec<ConsoleLine>>> {
        if self.status(device).is_none() {
            return Ok(None);
        }
        let events = self
            .hub
            .trace()
            .query(hublet_core::TraceQuery {
                device_id: Some(device.to_string()),
                kinds: vec!["serial.line".into(), "serial.sent".into()],
                limit: Some(tail),
                newest_first: true,
                ..Default::default()
            })
            .await?;
        Ok(Some(
            events.iter().rev().filter_map(ConsoleLine::of).collect(),
        ))
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
    cmds: mpsc::UnboundedReceiver<Cmd>,
}

/// How a period with the port open ended.
enum End {
    Vanished(String),
    Released,
    HubClosed(DetachReason),
    Stop,
}

/// What the first phase of an open port (no frame yet) led to.
enum Opened {
    /// The board spoke the protocol: this is its first frame.
    Spoke(BoardFrame),
    /// The port closed first.
    Ended(End),
}

impl Board {
    fn trace_port(&self, event: SerialPortChange, fill: impl FnOnce(&mut SerialPortEvent)) {
        let mut d = SerialPortEvent {
            event,
            identity: self.config.identity.describe(),
            path: None,
            error: None,
            reason: None,
            pulse_ms: None,
            firmware: None,
        };
        fill(&mut d);
        self.hub.trace().append(NewEvent::new(
            self.config.device_id.as_str(),
            TraceDetail::SerialPort(d),
        ));
    }

    /// Traces a protocol notice about the board (`device.protocol`).
    fn warn(&self, what: String, code: Option<u32>) {
        let mut d = DeviceProtocol::new("serial", what);
        d.code = code;
        self.hub.trace().append(NewEvent::new(
            self.config.device_id.as_str(),
            TraceDetail::DeviceProtocol(d),
        ));
    }

    fn set_state(&self, state: BoardState, path: Option<String>, reason: Option<String>) {
        let now = self.hub.now();
        let mut s = lock(&self.status);
        if s.state != state || s.reason != reason {
            s.since = Some(now);
        }
        s.state = state;
        s.path = path;
        s.reason = reason;
    }

    /// Handles a command while no port is open; `Some(true)` = stop, `Some(false)` = reclaim.
    fn idle_command(&mut self, c: Cmd) -> Option<bool> {
        match c {
            Cmd::Stop => Some(true),
            Cmd::Reclaim(r) => {
                self.config.released = false;
                let _ = r.send(Ok(()));
                Some(false)
            }
            Cmd::Release(r) => {
                self.config.released = true;
                self.set_state(
                    BoardState::Released,
                    None,
                    Some("released on request".into()),
                );
                let _ = r.send(Ok(()));
                None
            }
            Cmd::Send(_, r) | Cmd::Reset(r) => {
                let _ = r.send(Err(HubError::invalid(format!(
                    "board '{}' has no open port ({}): nothing can be sent to it now",
                    self.config.device_id,
                    lock(&self.status).state.describe()
                ))));
                None
            }
        }
    }

    /// Waits `d` for a command; true when the task must stop.
    async fn pause(&mut self, d: Duration) -> bool {
        let clock = self.hub.clock().clone();
        tokio::select! {
            _ = clock.sleep(d) => false,
            c = self.cmds.recv() => match c {
                None => true,
                Some(c) => self.idle_command(c) == Some(true),
            },
        }
    }

    async fn run(mut self) {
        let mut seen_before = false;
        let mut last_error: Option<String> = None;
        loop {
            if self.config.released {
                self.set_state(
                    BoardState::Released,
                    None,
                    Some("released on request".into()),
                );
                match self.cmds.recv().await {
                    None => return,
                    Some(c) => match self.idle_command(c) {
                        Some(true) => return,
                        _ => continue,
                    },
                }
            }
            let Some(path) = ports::locate_async(&self.config.identity).await else {
                // Say what is missing, so "searching" never looks like progress.
                let missing = match &self.config.identity {
                    ports::Identity::Path { path } => format!(
                        "there is no port at {path} now; waiting for it to appear (plug the board in, or check the path)"
                    ),
                    usb => format!(
                        "{} is not plugged in; waiting for it to appear",
                        usb.describe()
                    ),
                };
                self.set_state(BoardState::Searching, None, Some(missing));
                if self.pause(SEARCH_EVERY).await {
                    return;
                }
                continue;
            };
            let mut link = match link::open(&path, &self.config.settings, self.hub.clock().clone())
            {
                Ok(l) => l,
                Err(e) => {
                    if last_error.as_deref() != Some(e.as_str()) {
                        let (p, err) = (path.clone(), e.clone());
                        self.trace_port(SerialPortChange::OpenFailed, |d| {
                            d.path = Some(p);
                            d.error = Some(err);
                        });
                    }
                    self.set_state(BoardState::Error, None, Some(e.clone()));
                    last_error = Some(e);
                    if self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            last_error = None;
            let p = path.clone();
            self.trace_port(
                if seen_before {
                    SerialPortChange::Reappeared
                } else {
                    SerialPortChange::Opened
                },
                |d| d.path = Some(p),
            );
            seen_before = true;
            let end = match self.until_it_speaks(&mut link, &path).await {
                Opened::Ended(end) => end,
                Opened::Spoke(first) => self.online(&mut link, &path, first).await,
            };
            link.close().await;
            match end {
                End::Stop => return,
                End::Vanished(e) => {
                    let p = path.clone();
                    self.trace_port(SerialPortChange::Disappeared, |d| {
                        d.path = Some(p);
                        d.error = Some(e);
                    });
                }
                End::Released => {
                    let p = path.clone();
                    self.trace_port(SerialPortChange::Released, |d| d.path = Some(p));
                    self.config.released = true;
                }
                End::HubClosed(reason) => {
                    let p = path.clone();
                    self.trace_port(SerialPortChange::Dropped, |d| {
                        d.path = Some(p);
                        d.reason = Some(reason.describe());
                    });
                    self.config.released = true;
                }
            }
        }
    }

    /// The port is open but the board has not spoken the protocol yet: its
    /// device is not connected (a USB adapter with a dead or foreign board
    /// must not look online). Console lines are logged; the first frame
    /// ends this phase. The board is asked once to say HELLO, so one that
    /// booted before the port was opened is found without a reset.
    async fn until_it_speaks(&mut self, link: &mut Link, path: &str) -> Opened {
        self.set_state(
            BoardState::Opened,
            Some(path.to_string()),
            Some(
                "port open; waiting for the board to speak the protocol (HELLO or any frame)"
                    .into(),
            ),
        );
        let ending = self.line_ending();
        self.write_frame(link, &protocol::who_frame(), &ending, None, None);
        loop {
            tokio::select! {
                ev = link.events.recv() => match ev {
                    None => return Opened::Ended(End::Vanished("the reader stopped".into())),
                    Some(ReadEvent::Closed(e)) => return Opened::Ended(End::Vanished(e)),
                    Some(ReadEvent::Line { bytes, at, partial }) => {
                        if let Line::Frame(f) = self.log_in(&bytes, at, partial) {
                            return Opened::Spoke(f);
                        }
                    }
                },
                c = self.cmds.recv() => match c {
                    None | Some(Cmd::Stop) => return Opened::Ended(End::Stop),
                    Some(c) => if let Some(end) = self.port_command(link, c).await {
                        return Opened::Ended(end);
                    },
                },
            }
        }
    }

    /// The board speaks the protocol: its device is attached to the hub
    /// (connected) until the port closes or the hub ends the attachment.
    async fn online(&mut self, link: &mut Link, path: &str, first: BoardFrame) -> End {
        let request = AttachRequest::trusted(
            "serial",
            Some(path.to_string()),
            format!("board on serial port {path}"),
        );
        let (att, rx) = match self.hub.attach(&self.config.device_id, request).await {
            Ok(a) => a,
            Err(e) => {
                self.set_state(
                    BoardState::Error,
                    Some(path.to_string()),
                    Some(e.to_string()),
                );
                return match self.pause(Duration::from_secs(2)).await {
                    true => End::Stop,
                    false => End::Vanished(format!("the hub refused the board: {e}")),
                };
            }
        };
        att.subscribe_methods();
        if let Err(e) = att.subscribe_c2d(C2D_WINDOW) {
            tracing::warn!("C2D subscription failed: {e}");
        }
        // Boards hear desired-property changes without asking (a board
        // that does not know `DESIRED` prints it as an unknown line).
        att.subscribe_twin_desired();
        self.set_state(BoardState::Connected, Some(path.to_string()), None);
        if let Some(answer) = self.act(&att, first).await {
            self.write_frame(link, &answer, &self.line_ending(), None, None);
        }
        let end = self.connected(&att, rx, link).await;
        match &end {
            End::Stop | End::Released => att.detach(DetachReason::Closed).await,
            End::Vanished(e) => {
                att.detach(DetachReason::ConnectionLost(format!(
                    "serial port {path} vanished: {e}"
                )))
                .await
            }
            End::HubClosed(_) => drop(att),
        }
        end
    }

    fn line_ending(&self) -> Vec<u8> {
        self.config
            .settings
            .line_ending_bytes()
            .unwrap_or(b"\n")
            .to_vec()
    }

    /// A user's command while the port is open; `Some` ends the period.
    async fn port_command(&mut self, link: &Link, c: Cmd) -> Option<End> {
        match c {
            Cmd::Stop => Some(End::Stop),
            Cmd::Release(r) => {
                let _ = r.send(Ok(()));
                Some(End::Released)
            }
            Cmd::Reclaim(r) => {
                let _ = r.send(Ok(()));
                None
            }
            Cmd::Send(bytes, r) => {
                self.log_out(&bytes, false, None, None);
                let ok = link.write(WriteCmd::Bytes(bytes));
                let _ = r.send(if ok {
                    Ok(())
                } else {
                    Err(HubError::Internal("the port's writer stopped".into()))
                });
                None
            }
            Cmd::Reset(r) => {
                link.write(WriteCmd::Lines {
                    dtr: Some(false),
                    rts: Some(true),
                });
                self.hub.clock().sleep(RESET_PULSE).await;
                link.write(WriteCmd::Lines {
                    dtr: None,
                    rts: Some(false),
                });
                self.trace_port(SerialPortChange::Reset, |d| {
                    d.pulse_ms = Some(RESET_PULSE.as_millis() as u64)
                });
                let _ = r.send(Ok(()));
                None
            }
        }
    }

    /// Carries everything while the board is connected.
    async fn connected(
        &mut self,
        att: &Attachment,
        mut rx: mpsc::UnboundedReceiver<ToDevice>,
        link: &mut Link,
    ) -> End {
        let ending = self.line_ending();
        loop {
            tokio::select! {
                ev = link.events.recv() => match ev {
                    None => return End::Vanished("the reader stopped".into()),
                    Some(ReadEvent::Closed(e)) => return End::Vanished(e),
                    Some(ReadEvent::Line { bytes, at, partial }) => {
                        att.touch();
                        if let Line::Frame(f) = self.log_in(&bytes, at, partial)
                            && let Some(answer) = self.act(att, f).await
                        {
                            self.write_frame(link, &answer, &ending, None, None);
                        }
                    }
                },
                item = rx.recv() => match item {
                    Some(ToDevice::C2d(m)) => self.write_frame(link, &protocol::c2d_frame(&m), &ending, Some(&m.message_id), None),
                    Some(ToDevice::Method(r)) => {
                        let f = protocol::method_frame(&r.request_id, &r.method_name, &r.payload);
                        self.write_frame(link, &f, &ending, None, Some(&r.request_id));
                    }
                    Some(ToDevice::DesiredPatch(patch)) => {
                        let version = patch.get("$version").and_then(|v| v.as_u64()).unwrap_or_default();
                        self.write_frame(link, &protocol::desired_frame(version, patch.to_string().as_bytes()), &ending, None, None);
                    }
                    Some(ToDevice::Close(reason)) => return End::HubClosed(*reason),
                    None => return End::HubClosed(DetachReason::Dropped),
                },
                c = self.cmds.recv() => match c {
                    None => return End::Stop,
                    Some(c) => if let Some(end) = self.port_command(link, c).await {
                        return end;
                    },
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
        let (text, hex) = text_and_hex(bytes);
        lock(&self.status).lines_out += 1;
        let detail = TraceDetail::SerialSent(SerialSent {
            text: Some(text),
            hex,
            frame,
            sent_at: now,
        });
        let mut ev = NewEvent::new(self.config.device_id.as_str(), detail);
        if let Some(m) = message_id {
            ev = ev.message(m);
        }
        if let Some(r) = request_id {
            ev = ev.request(r);
        }
        self.hub.trace().append(ev);
    }

    /// One line from the board, logged (console and trace); returns what it is.
    fn log_in(&self, bytes: &[u8], at: Timestamp, partial: bool) -> Line {
        lock(&self.status).lines_in += 1;
        let parsed = protocol::parse(bytes);
        let (text, hex) = text_and_hex(bytes);
        let frame = matches!(parsed, Line::Frame(_));
        let warning = match &parsed {
            Line::Malformed(w) => Some(format!("looks like a frame but is not: {w}")),
            _ => None,
        };
        let detail = TraceDetail::SerialLine(SerialLine {
            text: Some(text),
            hex,
            frame,
            partial,
            warning,
            received_at: at,
        });
        self.hub
            .trace()
            .append(NewEvent::new(self.config.device_id.as_str(), detail));
        parsed
    }

    /// Acts on a frame from the connected board; returns the frame to
    /// answer with, for those the board waits on (`TWINGET`, `REPORT`).
    async fn act(&self, att: &Attachment, f: BoardFrame) -> Option<String> {
        let refused = |verb: &str, lock: &str, e: HubError| {
            self.warn(format!("{verb} {lock}: {e}"), Some(e.code().number()));
        };
        match f {
            BoardFrame::Done(lock) => {
                if let Err(e) = att.complete(&lock).await {
                    refused("DONE", &lock, e);
                }
            }
            BoardFrame::Abandon(lock) => {
                if let Err(e) = att.abandon(&lock).await {
                    refused("ABANDON", &lock, e);
                }
            }
            BoardFrame::Reject(lock) => {
                if let Err(e) = att.reject(&lock).await {
                    refused("REJECT", &lock, e);
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
                    self.warn(format!("TELEMETRY: {e}"), Some(e.code().number()));
                }
            }
            BoardFrame::TwinGet(rid) => {
                return Some(match att.twin().await {
                    Ok(twin) => protocol::twin_frame(&rid, 200, twin.to_string().as_bytes()),
                    Err(e) => self.twin_refused("TWINGET", &rid, &e, att),
                });
            }
            BoardFrame::Report { request_id, patch } => {
                let result = match serde_json::from_str::<serde_json::Value>(&patch) {
                    Ok(p) => att.report(p).await,
                    Err(e) => Err(HubError::invalid(format!(
                        "the reported-properties patch is not JSON: {e}"
                    ))),
                };
                return Some(match result {
                    Ok(v) => protocol::twin_frame(
                        &request_id,
                        204,
                        serde_json::json!({"$version": v}).to_string().as_bytes(),
                    ),
                    Err(e) => self.twin_refused("REPORT", &request_id, &e, att),
                });
            }
            BoardFrame::Hello {
                device_id,
                firmware,
            } => {
                if let Some(id) = &device_id
                    && id != &self.config.device_id
                {
                    self.warn(
                        format!(
                            "the board says it is '{id}' but is bound to '{}'",
                            self.config.device_id
                        ),
                        None,
                    );
                }
                self.trace_port(SerialPortChange::Hello, |d| d.firmware = firmware);
            }
        }
        None
    }

    /// A refused twin request: traced as a warning, answered with IoT
    /// Hub's status and error body (as MQTT devices get them).
    fn twin_refused(&self, verb: &str, rid: &str, e: &HubError, att: &Attachment) -> String {
        self.warn(format!("{verb} {rid}: {e}"), Some(e.code().number()));
        protocol::twin_frame(
            rid,
            e.code().http_status(),
            e.device_body(att.now()).to_string().as_bytes(),
        )
    }
}

/// The bytes as text, with each byte that is not UTF-8 written `\xNN` (so
/// a wrong-baud banner stays readable around its noise), and, only when
/// there were such bytes, every byte in hex (the raw line).
fn text_and_hex(bytes: &[u8]) -> (String, Option<String>) {
    if let Ok(t) = std::str::from_utf8(bytes) {
        return (t.to_string(), None);
    }
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for b in chunk.invalid() {
            text.push_str(&format!("\\x{b:02x}"));
        }
    }
    let hex = bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    (text, Some(hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_byte_is_escaped_and_the_rest_stays_readable() {
        let (text, hex) = text_and_hex(b"boot \xff\xfe ok");
        assert_eq!(text, "boot \\xff\\xfe ok");
        assert_eq!(hex.as_deref(), Some("62 6f 6f 74 20 ff fe 20 6f 6b"));
        assert_eq!(text_and_hex("héllo".as_bytes()), ("héllo".into(), None));
    }
}
