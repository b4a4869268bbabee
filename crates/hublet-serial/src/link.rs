//! An open serial port: a reader thread that splits lines (with the time
//! each arrived) and a writer thread. serialport is blocking, so the port
//! lives on its own threads and talks to the async side through channels.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hublet_core::{SharedClock, Timestamp};
use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};
use tokio::sync::mpsc;

use crate::board::SerialSettings;

/// Longest line kept whole; longer ones are cut into pieces.
pub const MAX_LINE: usize = 4096;
/// A partial line (no line ending yet) is delivered after this much silence,
/// so a prompt or a crash without a newline still shows.
const PARTIAL_AFTER: Duration = Duration::from_millis(250);

/// What the reader saw.
#[derive(Debug)]
pub(crate) enum ReadEvent {
    /// A line, without its ending; `partial` when it ended by silence or length.
    Line {
        bytes: Vec<u8>,
        at: Timestamp,
        partial: bool,
    },
    /// The port failed or vanished.
    Closed(String),
}

/// What the writer does.
pub(crate) enum WriteCmd {
    Bytes(Vec<u8>),
    Lines {
        dtr: Option<bool>,
        rts: Option<bool>,
    },
}

/// An open port.
pub(crate) struct Link {
    pub events: mpsc::Receiver<ReadEvent>,
    writer: Option<std::sync::mpsc::Sender<WriteCmd>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Link {
    pub(crate) fn write(&self, c: WriteCmd) -> bool {
        self.writer.as_ref().is_some_and(|w| w.send(c).is_ok())
    }

    /// Closes the port and waits until it is really closed (both threads
    /// gone, so the exclusive lock is released): a flashing tool started
    /// right after a detach must get the port.
    pub(crate) async fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.events.close();
        self.writer.take();
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn settings_of(s: &SerialSettings) -> (DataBits, Parity, StopBits, FlowControl) {
    (
        match s.data_bits {
            5 => DataBits::Five,
            6 => DataBits::Six,
            7 => DataBits::Seven,
            _ => DataBits::Eight,
        },
        match s.parity.as_str() {
            "odd" => Parity::Odd,
            "even" => Parity::Even,
            _ => Parity::None,
        },
        if s.stop_bits == 2 {
            StopBits::Two
        } else {
            StopBits::One
        },
        match s.flow_control.as_str() {
            "software" => FlowControl::Software,
            "hardware" => FlowControl::Hardware,
            _ => FlowControl::None,
        },
    )
}

/// Opens `path` and starts the threads.
pub(crate) fn open(path: &str, s: &SerialSettings, clock: SharedClock) -> Result<Link, String> {
    let (data_bits, parity, stop_bits, flow) = settings_of(s);
    let mut port: TTYPort = serialport::new(path, s.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop_bits)
        .flow_control(flow)
        .timeout(Duration::from_millis(50))
        .open_native()
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    if let Some(d) = s.dtr {
        let _ = port.write_data_terminal_ready(d);
    }
    if let Some(r) = s.rts {
        let _ = port.write_request_to_send(r);
    }
    let reader = port
        .try_clone_native()
        .map_err(|e| format!("cannot clone {path}: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, events) = mpsc::channel(4096);
    let (wtx, wrx) = std::sync::mpsc::channel::<WriteCmd>();
    let stop_r = stop.clone();
    let reader = std::thread::Builder::new()
        .name(format!("serial-read {path}"))
        .spawn(move || read_loop(reader, tx, stop_r, clock))
        .map_err(|e| e.to_string())?;
    let stop_w = stop.clone();
    let writer = std::thread::Builder::new()
        .name(format!("serial-write {path}"))
        .spawn(move || {
            while let Ok(cmd) = wrx.recv() {
                if stop_w.load(Ordering::Relaxed) {
                    return;
                }
                match cmd {
                    WriteCmd::Bytes(b) => {
                        if port.write_all(&b).and_then(|_| port.flush()).is_err() {
                            return;
                        }
                    }
                    WriteCmd::Lines { dtr, rts } => {
                        if let Some(d) = dtr {
                            let _ = port.write_data_terminal_ready(d);
                        }
                        if let Some(r) = rts {
                            let _ = port.write_request_to_send(r);
                        }
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(Link {
        events,
        writer: Some(wtx),
        stop,
        threads: vec![reader, writer],
    })
}

fn read_loop(
    mut port: TTYPort,
    tx: mpsc::Sender<ReadEvent>,
    stop: Arc<AtomicBool>,
    clock: SharedClock,
) {
    let mut buf = [0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut last_byte = Instant::now();
    let emit = |line: &mut Vec<u8>, partial: bool| -> bool {
        let bytes = std::mem::take(line);
        tx.blocking_send(ReadEvent::Line {
            bytes,
            at: clock.now(),
            partial,
        })
        .is_ok()
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match port.read(&mut buf) {
            Ok(0) => {
                let _ = tx.blocking_send(ReadEvent::Closed("the port closed".into()));
                return;
            }
            Ok(n) => {
                last_byte = Instant::now();
                for &b in &buf[..n] {
                    if b == b'\n' {
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        if !emit(&mut line, false) {
                            return;
                        }
                    } else {
                        line.push(b);
                        if line.len() >= MAX_LINE && !emit(&mut line, true) {
                            return;
                        }
                    }
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::Interrupted =>
            {
                if !line.is_empty() && last_byte.elapsed() >= PARTIAL_AFTER {
                    let trailing_cr = line.last() == Some(&b'\r');
                    if trailing_cr {
                        line.pop();
                    }
                    if !emit(&mut line, !trailing_cr) {
                        return;
                    }
                }
            }
            Err(e) => {
                if !line.is_empty() {
                    let _ = emit(&mut line, true);
                }
                let _ = tx.blocking_send(ReadEvent::Closed(e.to_string()));
                return;
            }
        }
    }
}
