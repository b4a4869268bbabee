//! A board emulator on the far end of a pseudo-terminal: what the tests
//! (and `hublet serial emulate`, for trainings without hardware) put where
//! a real board would be. It speaks the line protocol exactly as the
//! reference firmware in `docs/serial-protocol.md` does.
//!
//! Behaviour is fixed and keyed on what arrives, so a test or a class can
//! steer it from the hub side:
//! - C2D: the body's first word picks the answer: `abandon`, `reject`,
//!   `ignore` (no answer, the lock expires), anything else `DONE`. Before
//!   answering it prints `got <message-id>: <body>` as console output.
//! - Methods: `echo` answers 200 with the payload; `fail` answers 500;
//!   `reboot` answers 200, then prints a boot banner; `hang` never answers;
//!   any other name answers 404.
//! - Desired-property patches (`DESIRED`): each property is acknowledged
//!   the IoT Plug and Play way with a `REPORT` of
//!   `{"<name>": {"value": <v>, "ac": 200, "av": <version>}}` (a removed
//!   property, `null`, is not acknowledged).
//! - Twin answers (`TWIN`): printed as `twin <request-id> <status>`.
//! - Any other line (text typed in a console): `unknown command: <line>`.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use crate::protocol::{self, HubFrame, PREFIX};

/// Firmware version the emulator announces.
pub const FIRMWARE: &str = "hublet-emulator-1";

/// State shared with the reader thread.
struct Shared {
    writer: Mutex<TTYPort>,
    received: Mutex<Vec<Vec<u8>>>,
    stop: AtomicBool,
    /// Heartbeat period in ms; 0 = none.
    heartbeat_ms: AtomicU64,
}

/// A running emulated board.
pub struct Emulator {
    path: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Held (never read) so the pseudo-terminal stays usable while the
    /// bridge has not opened it yet.
    slave: Option<TTYPort>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Emulator {
    /// Creates a pseudo-terminal pair and starts the board on its master
    /// side. The bridge opens [`Emulator::path`]. With `hello`, the board
    /// introduces itself as that device after its boot line.
    pub fn start(hello: Option<&str>) -> io::Result<Emulator> {
        let (master, slave) = TTYPort::pair().map_err(io::Error::other)?;
        let path = slave
            .name()
            .ok_or_else(|| io::Error::other("the pseudo-terminal has no name"))?;
        let reader = master.try_clone_native().map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            writer: Mutex::new(master),
            received: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            heartbeat_ms: AtomicU64::new(0),
        });
        let s = shared.clone();
        let id = hello.map(str::to_string);
        let thread = std::thread::Builder::new()
            .name(format!("emulator {path}"))
            .spawn(move || run(reader, s, id))?;
        Ok(Emulator {
            path,
            shared,
            thread: Some(thread),
            slave: Some(slave),
        })
    }

    /// The port to attach (the pseudo-terminal's slave side).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Prints a console line, as firmware would with `Serial.println`.
    pub fn println(&self, text: &str) -> io::Result<()> {
        let mut b = text.as_bytes().to_vec();
        b.extend_from_slice(b"\r\n");
        self.write_raw(&b)
    }

    /// Writes bytes as they are (noise, partial lines, floods).
    pub fn write_raw(&self, bytes: &[u8]) -> io::Result<()> {
        write_all(&self.shared, bytes)
    }

    /// Prints `I (<uptime ms>) app: heartbeat <n>` every `every` (real
    /// time), like an idle firmware's log; `None` stops it.
    pub fn set_heartbeat(&self, every: Option<Duration>) {
        let ms = every.map(|d| d.as_millis().max(1) as u64).unwrap_or(0);
        self.shared.heartbeat_ms.store(ms, Ordering::Relaxed);
    }

    /// Every line the hub sent so far, in order, without line endings.
    pub fn received(&self) -> Vec<Vec<u8>> {
        lock(&self.shared.received).clone()
    }

    /// Unplugs the board: the pseudo-terminal goes away, as a USB port does.
    pub fn unplug(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.slave.take();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_all(shared: &Shared, bytes: &[u8]) -> io::Result<()> {
    let mut w = lock(&shared.writer);
    w.write_all(bytes)?;
    w.flush()
}

fn reply(shared: &Shared, line: &str) {
    let mut b = line.as_bytes().to_vec();
    b.extend_from_slice(b"\r\n");
    if let Err(e) = write_all(shared, &b) {
        tracing::debug!("emulator cannot write: {e}");
    }
}

/// The board's HELLO: with its device id when it was given one.
fn hello(id: Option<&str>) -> String {
    match id {
        Some(d) => format!("{PREFIX}HELLO {d} {FIRMWARE}"),
        None => format!("{PREFIX}HELLO"),
    }
}

fn run(mut port: TTYPort, shared: Arc<Shared>, id: Option<String>) {
    // Boot output goes out at once; the pseudo-terminal keeps it until the
    // bridge opens the port, as a USB adapter's buffer would.
    reply(&shared, "boot: emulated board ready");
    if id.is_some() {
        reply(&shared, &hello(id.as_deref()));
    }
    let _ = port.set_timeout(Duration::from_millis(20));
    let mut buf = [0u8; 4096];
    let mut line = Vec::new();
    let booted = Instant::now();
    let mut last_beat = booted;
    let mut beats = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let every = shared.heartbeat_ms.load(Ordering::Relaxed);
        if every > 0 && last_beat.elapsed() >= Duration::from_millis(every) {
            last_beat = Instant::now();
            beats += 1;
            reply(
                &shared,
                &format!(
                    "I ({}) app: heartbeat {beats}",
                    booted.elapsed().as_millis()
                ),
            );
        }
        match port.read(&mut buf) {
            Ok(n) => {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        let l = std::mem::take(&mut line);
                        act(&shared, &l, id.as_deref());
                        lock(&shared.received).push(l);
                    } else {
                        line.push(b);
                    }
                }
            }
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What the board does with a line from the hub.
fn act(shared: &Shared, line: &[u8], id: Option<&str>) {
    match protocol::parse_hub(line) {
        None if line.is_empty() => {}
        // Typed text: answered like the reference firmware does.
        None => reply(
            shared,
            &format!("unknown command: {}", protocol::escape(line)),
        ),
        Some(Err(e)) => reply(shared, &format!("error: cannot read frame: {e}")),
        Some(Ok(HubFrame::Who)) => reply(shared, &hello(id)),
        Some(Ok(HubFrame::C2d {
            lock,
            message_id,
            body,
            ..
        })) => {
            let text = String::from_utf8_lossy(&body).into_owned();
            reply(
                shared,
                &format!("got {message_id}: {}", protocol::escape(&body)),
            );
            match text.split_whitespace().next().unwrap_or("") {
                "abandon" => reply(shared, &format!("{PREFIX}ABANDON {lock}")),
                "reject" => reply(shared, &format!("{PREFIX}REJECT {lock}")),
                "ignore" => {}
                _ => reply(shared, &format!("{PREFIX}DONE {lock}")),
            }
        }
        Some(Ok(HubFrame::Twin {
            request_id, status, ..
        })) => reply(shared, &format!("twin {request_id} {status}")),
        Some(Ok(HubFrame::Desired { version, patch })) => {
            let Ok(serde_json::Value::Object(props)) = serde_json::from_str(&patch) else {
                reply(shared, "error: the desired patch is not a JSON object");
                return;
            };
            let acks: serde_json::Map<String, serde_json::Value> = props
                .into_iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k, serde_json::json!({"value": v, "ac": 200, "av": version})))
                .collect();
            if !acks.is_empty() {
                reply(
                    shared,
                    &format!(
                        "{PREFIX}REPORT ack-{version} {}",
                        serde_json::Value::Object(acks)
                    ),
                );
            }
        }
        Some(Ok(HubFrame::Method {
            request_id,
            name,
            payload,
        })) => match name.as_str() {
            "echo" => reply(
                shared,
                &format!("{PREFIX}RESULT {request_id} 200 {payload}"),
            ),
            "fail" => reply(
                shared,
                &format!("{PREFIX}RESULT {request_id} 500 {{\"error\":\"failed on request\"}}"),
            ),
            "reboot" => {
                reply(
                    shared,
                    &format!("{PREFIX}RESULT {request_id} 200 {{\"rebooting\":true}}"),
                );
                reply(shared, "ets Jun  8 2016 00:22:57");
                reply(shared, "boot: emulated board ready");
            }
            "hang" => {}
            other => reply(
                shared,
                &format!(
                    "{PREFIX}RESULT {request_id} 404 {{\"error\":\"no method '{}'\"}}",
                    other.replace('"', "'")
                ),
            ),
        },
    }
}
