//! `hublet serial …`: boards on USB / serial, and their console.
//!
//! A board is *bound* to a device (`bind`, `unbind`); its port is
//! *released* for another program and *reclaimed* (`release`, `reclaim`).
//! Hublet 0.1's verbs (`attach`, `forget`, `detach`, `reattach`) remain as
//! aliases for one release.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{Args, Subcommand};
use hublet_api::dto::{BindBoardRequest, SerialSendRequest, TraceEventDto};
use hublet_core::TraceDetail;
use hublet_serial::{BoardStatus, PortInfo, SerialSettings};
use reqwest::Method;

use super::Global;
use crate::client::{Client, ClientError, seg};
use crate::exit::codes;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum SerialCommand {
    /// List the machine's serial ports and the boards bound to devices.
    List,
    /// Bind a device to the board on PORT and start bridging it.
    #[command(alias = "attach")]
    Bind(BindArgs),
    /// Release a board's port (e.g. for a flashing tool) until `reclaim`.
    #[command(alias = "detach")]
    Release(IdArg),
    /// Take a released board's port back.
    #[command(alias = "reattach")]
    Reclaim(IdArg),
    /// Unbind a board (the device stays registered).
    #[command(alias = "forget")]
    Unbind(IdArg),
    /// Pulse RTS to reset the board.
    Reset(IdArg),
    /// Interactive console: the board's output with timestamps; type a line
    /// and press Enter to send it. Ctrl-] leaves.
    Console(ConsoleArgs),
    /// Send a line of text (with the board's line ending), hex bytes or escaped bytes.
    Send(SendArgs),
    /// Run an emulated board on a new pseudo-terminal (no hardware needed).
    Emulate(EmulateArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The board's device id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct BindArgs {
    /// The port, e.g. /dev/ttyUSB0 (see `hublet serial list`).
    pub port: String,
    /// The device the board is (registered if missing).
    #[arg(long)]
    pub device: String,
    /// Bind even if the port does not exist yet, and wait for it to appear.
    #[arg(long)]
    pub wait: bool,
    /// Baud rate.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Data bits: 5, 6, 7 or 8.
    #[arg(long, default_value_t = 8)]
    pub data_bits: u8,
    /// Parity: none, odd or even.
    #[arg(long, default_value = "none")]
    pub parity: String,
    /// Stop bits: 1 or 2.
    #[arg(long, default_value_t = 1)]
    pub stop_bits: u8,
    /// Flow control: none, software or hardware.
    #[arg(long, default_value = "none")]
    pub flow_control: String,
    /// Line ending of what Hublet sends: lf, crlf or cr.
    #[arg(long, default_value = "lf")]
    pub line_ending: String,
    /// Set DTR after opening (true/false; default: leave it).
    #[arg(long)]
    pub dtr: Option<bool>,
    /// Set RTS after opening (true/false; default: leave it).
    #[arg(long)]
    pub rts: Option<bool>,
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The board's device id.
    pub id: String,
    /// How many earlier lines to show first.
    #[arg(long, default_value_t = 50)]
    pub history: usize,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The board's device id.
    pub id: String,
    /// Text to send (the board's line ending is added).
    #[arg(required_unless_present_any = ["hex", "escaped"], conflicts_with_all = ["hex", "escaped"])]
    pub text: Option<String>,
    /// Hex bytes, sent as they are: "de ad be ef".
    #[arg(long, conflicts_with = "escaped")]
    pub hex: Option<String>,
    /// Text with escapes, sent as it expands: 'AT\r\n', '\x1b'.
    #[arg(long)]
    pub escaped: Option<String>,
}

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Announce this device id in a HELLO frame.
    #[arg(long)]
    pub device: Option<String>,
    /// Also make a symlink to the pseudo-terminal here (a stable path to attach).
    #[arg(long)]
    pub link: Option<std::path::PathBuf>,
}

pub async fn run(g: &Global, c: SerialCommand) -> anyhow::Result<()> {
    if let SerialCommand::Emulate(a) = c {
        return emulate(a).await;
    }
    let client = Client::connect(g)?;
    let board = |id: &str| format!("/api/serial/boards/{}", seg(id));
    match c {
        SerialCommand::List => list(&client, g).await?,
        SerialCommand::Bind(a) => {
            let req = BindBoardRequest {
                port: a.port,
                device_id: a.device,
                wait: a.wait,
                settings: Some(SerialSettings {
                    baud: a.baud,
                    data_bits: a.data_bits,
                    parity: a.parity,
                    stop_bits: a.stop_bits,
                    flow_control: a.flow_control,
                    line_ending: a.line_ending,
                    dtr: a.dtr,
                    rts: a.rts,
                }),
            };
            let s: BoardStatus = client
                .call(Method::POST, "/api/serial/boards", &req)
                .await?;
            if g.json {
                output::json(&s);
            } else {
                println!(
                    "board '{}' bound to {} ({} baud); {}{}",
                    s.device_id,
                    s.identity_text,
                    s.settings.baud,
                    s.state.describe(),
                    s.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            }
        }
        SerialCommand::Release(a) => {
            let s: BoardStatus = client
                .call(
                    Method::POST,
                    &format!("{}/release", board(&a.id)),
                    &serde_json::json!({}),
                )
                .await?;
            say(
                g,
                &s,
                "released: its port is free until `hublet serial reclaim`",
            );
        }
        SerialCommand::Reclaim(a) => {
            let s: BoardStatus = client
                .call(
                    Method::POST,
                    &format!("{}/reclaim", board(&a.id)),
                    &serde_json::json!({}),
                )
                .await?;
            say(g, &s, "reclaimed: its port is looked for and opened again");
        }
        SerialCommand::Unbind(a) => {
            client.call_empty(Method::DELETE, &board(&a.id)).await?;
            if g.json {
                output::json(&serde_json::json!({"unbound": a.id}));
            } else {
                println!("unbound board '{}' (the device stays registered)", a.id);
            }
        }
        SerialCommand::Reset(a) => {
            client
                .call_empty(Method::POST, &format!("{}/reset", board(&a.id)))
                .await?;
            if !g.json {
                println!("reset pulse sent to '{}'", a.id);
            }
        }
        SerialCommand::Send(a) => {
            let req = SerialSendRequest {
                text: a.text,
                hex: a.hex,
                escaped: a.escaped,
            };
            client
                .call_no_answer(Method::POST, &format!("{}/send", board(&a.id)), &req)
                .await?;
            if !g.json {
                println!("sent to '{}'", a.id);
            }
        }
        SerialCommand::Console(a) => console(&client, g, a).await?,
        SerialCommand::Emulate(_) => {}
    }
    Ok(())
}

fn say(g: &Global, s: &BoardStatus, what: &str) {
    if g.json {
        output::json(s);
    } else {
        println!("board '{}' {what}", s.device_id);
    }
}

async fn list(client: &Client, g: &Global) -> anyhow::Result<()> {
    let ports: Vec<PortInfo> = client.get("/api/serial/ports", &[]).await?;
    let boards: Vec<BoardStatus> = client.get("/api/serial/boards", &[]).await?;
    if g.json {
        output::json(&serde_json::json!({"ports": ports, "boards": boards}));
        return Ok(());
    }
    if ports.is_empty() {
        println!("no serial ports found");
    } else {
        let hex = |v: Option<u16>| v.map(|v| format!("{v:04x}")).unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<String>> = ports
            .iter()
            .map(|p| {
                let bound = boards
                    .iter()
                    .find(|b| b.path.as_deref() == Some(p.path.as_str()))
                    .map(|b| b.device_id.clone());
                vec![
                    p.path.clone(),
                    hex(p.vid),
                    hex(p.pid),
                    output::or_dash(&p.serial_number),
                    output::or_dash(&p.manufacturer),
                    output::or_dash(&p.product),
                    output::or_dash(&bound),
                ]
            })
            .collect();
        output::table(
            &[
                "PORT",
                "VID",
                "PID",
                "SERIAL",
                "MANUFACTURER",
                "PRODUCT",
                "BOARD",
            ],
            &rows,
        );
    }
    println!();
    if boards.is_empty() {
        println!("no boards — bind one with: hublet serial bind /dev/ttyUSB0 --device my-board");
    } else {
        let rows: Vec<Vec<String>> = boards
            .iter()
            .map(|b| {
                vec![
                    b.device_id.clone(),
                    b.identity_text.clone(),
                    b.state.to_string(),
                    output::or_dash(&b.path),
                    b.settings.baud.to_string(),
                    b.lines_in.to_string(),
                    b.lines_out.to_string(),
                    output::or_dash(&b.reason),
                ]
            })
            .collect();
        output::table(
            &[
                "BOARD", "IDENTITY", "STATE", "PATH", "BAUD", "IN", "OUT", "REASON",
            ],
            &rows,
        );
    }
    Ok(())
}

/// Prints trace lines above the line being typed, in raw mode or not.
struct Screen {
    raw: bool,
    typed: String,
    json: bool,
}

impl Screen {
    fn show(&self, e: &TraceEventDto) {
        let mut out = std::io::stdout().lock();
        let text = if self.json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            render(e)
        };
        if self.raw {
            let _ = write!(out, "\r\x1b[K{text}\r\n> {}", self.typed);
        } else {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    }

    fn prompt(&self) {
        if self.raw {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[K> {}", self.typed);
            let _ = out.flush();
        }
    }
}

/// `12:34:56.789 < text`: time of day (UTC, ms) and what the event says.
fn render(e: &TraceEventDto) -> String {
    let ts = e.ts.to_rfc3339();
    let time = ts.get(11..23).unwrap_or(&ts).to_string();
    match &e.detail {
        TraceDetail::SerialLine(_) | TraceDetail::SerialSent(_) => {
            format!("{time} {}", e.detail.summary())
        }
        other => format!("{time} -- {}", other.summary()),
    }
}

async fn console(client: &Client, g: &Global, a: ConsoleArgs) -> anyhow::Result<()> {
    let status: BoardStatus = client
        .get(&format!("/api/serial/boards/{}", seg(&a.id)), &[])
        .await?;
    let filter = |extra: Vec<(&'static str, String)>| {
        let mut q = vec![("deviceId", a.id.clone()), ("kind", "serial".to_string())];
        q.extend(extra);
        q
    };
    let mut history: Vec<TraceEventDto> = client
        .get(
            "/api/trace",
            &filter(vec![
                ("limit", a.history.to_string()),
                ("newestFirst", "true".into()),
            ]),
        )
        .await?;
    history.reverse();
    let last = history.last().map(|e| e.id).unwrap_or(0);
    let resp = client
        .get_raw(
            "/api/trace/stream",
            &filter(vec![("afterId", last.to_string())]),
        )
        .await?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal() && !g.json;
    if !g.json {
        eprintln!(
            "console of '{}' ({}, {}){}",
            a.id,
            status.identity_text,
            status.state.describe(),
            if interactive {
                " — type and press Enter to send; Ctrl-] leaves"
            } else {
                ""
            }
        );
    }
    let mut screen = Screen {
        raw: false,
        typed: String::new(),
        json: g.json,
    };
    for e in &history {
        screen.show(e);
    }
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<TraceEventDto>();
    let follow = tokio::spawn(async move {
        let _ = crate::sse::read(resp, |ev| {
            if ev.event == "trace"
                && let Ok(e) = serde_json::from_str::<TraceEventDto>(&ev.data)
            {
                return events_tx.send(e).is_ok();
            }
            true
        })
        .await;
    });
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<Input>();
    let _guard = if interactive {
        crossterm::terminal::enable_raw_mode()?;
        screen.raw = true;
        screen.prompt();
        std::thread::spawn(move || read_keys(lines_tx));
        Some(RawGuard)
    } else {
        std::thread::spawn(move || read_piped(lines_tx));
        None
    };
    let path = format!("/api/serial/boards/{}/send", seg(&a.id));
    let result = loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(e) => screen.show(&e),
                None => break Err(ClientError::Exit(codes::NO_HUB, "the hub closed the stream".into()).into()),
            },
            i = lines.recv() => match i {
                Some(Input::Typed(t)) => { screen.typed = t; screen.prompt(); }
                Some(Input::Line(text)) => {
                    screen.typed.clear();
                    screen.prompt();
                    let req = SerialSendRequest { text: Some(text), hex: None, escaped: None };
                    if let Err(e) = client.call_no_answer(Method::POST, &path, &req).await {
                        let mut out = std::io::stderr().lock();
                        let nl = if screen.raw { "\r\n" } else { "\n" };
                        let _ = write!(out, "\r\x1b[K(not sent: {e}){nl}");
                        screen.prompt();
                    }
                }
                Some(Input::Leave) => break Ok(()),
                // Piped input ended: keep showing output until Ctrl-C.
                None => {
                    tokio::signal::ctrl_c().await?;
                    break Ok(());
                }
            },
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    follow.abort();
    if screen.raw {
        print!("\r\x1b[K");
        let _ = std::io::stdout().flush();
    }
    result
}

enum Input {
    /// What is typed so far.
    Typed(String),
    /// A line to send.
    Line(String),
    /// Ctrl-] or Ctrl-C.
    Leave,
}

/// Restores the terminal however the console ends.
struct RawGuard;

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

fn read_keys(tx: tokio::sync::mpsc::UnboundedSender<Input>) {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    let mut typed = String::new();
    loop {
        let Ok(ev) = event::read() else {
            let _ = tx.send(Input::Leave);
            return;
        };
        let Event::Key(k) = ev else { continue };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let msg = match k.code {
            // Ctrl-] arrives as `]` or, from the raw byte 0x1d, as `5`.
            KeyCode::Char(']') | KeyCode::Char('5') if ctrl => Input::Leave,
            KeyCode::Char('c') | KeyCode::Char('d') if ctrl => Input::Leave,
            KeyCode::Enter => Input::Line(std::mem::take(&mut typed)),
            KeyCode::Backspace => {
                typed.pop();
                Input::Typed(typed.clone())
            }
            KeyCode::Char(c) if !ctrl => {
                typed.push(c);
                Input::Typed(typed.clone())
            }
            _ => continue,
        };
        let leave = matches!(msg, Input::Leave);
        if tx.send(msg).is_err() || leave {
            return;
        }
    }
}

fn read_piped(tx: tokio::sync::mpsc::UnboundedSender<Input>) {
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { return };
        if tx.send(Input::Line(line)).is_err() {
            return;
        }
    }
}

async fn emulate(a: EmulateArgs) -> anyhow::Result<()> {
    let emu = hublet_serial::Emulator::start(a.device.as_deref())?;
    let mut shown = emu.path().to_string();
    if let Some(link) = &a.link {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(emu.path(), link)?;
        shown = link.display().to_string();
    }
    println!("emulated board on {shown}");
    println!(
        "bind it with: hublet serial bind {shown} --device {}",
        a.device.as_deref().unwrap_or("my-board")
    );
    println!(
        "(Ctrl-C stops it; it answers methods echo, fail, reboot, hang; C2D bodies starting with abandon/reject/ignore)"
    );
    let _ = std::io::stdout().flush();
    emu.set_heartbeat(Some(Duration::from_secs(5)));
    tokio::signal::ctrl_c().await?;
    if let Some(link) = &a.link {
        let _ = std::fs::remove_file(link);
    }
    emu.unplug();
    Ok(())
}
