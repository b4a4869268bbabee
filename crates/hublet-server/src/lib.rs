//! # hublet-server: a whole hub, started and stopped as one
//!
//! The composition root. `hublet serve` and the desktop app run the same
//! hub: the engine on a data directory, the MQTT gateway, the REST API (and
//! the UI, when asked), the simulator and the serial bridge, all on one
//! [`Hub`]. Both call [`start`] with a [`ServeConfig`] and, when done,
//! [`RunningHub::shutdown`]. Nothing here has rules of its own: it wires the
//! crates together, writes `hub.json` so the CLI finds the hub, and reports
//! what it started.

pub mod hubfile;
pub mod malloc;
pub mod ports;

pub use hublet_mqtt::{C2D_INFLIGHT_RANGE, DEFAULT_C2D_INFLIGHT};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hublet_amqp::{AmqpConfig, AmqpServer};
use hublet_api::dto::ListenersDto;
use hublet_api::{ApiServer, AppState, SecurityConfig, ServerFacts};
use hublet_core::{Durability, Hub, HubError, HubOptions, HubSettings};
use hublet_mqtt::{Gateway, GatewayConfig};
use hublet_serial::{Emulator, SerialBridge, SerialSettings};
use hublet_sim::{FleetRequest, Simulator, Target};
use hublet_tls::LocalPki;

use crate::hubfile::HubFile;

/// The demo fleet: (profile, count).
pub const DEMO_FLEET: [(&str, u32); 5] = [
    ("thermostat", 2),
    ("door-lock", 1),
    ("sleepy-sensor", 1),
    ("flaky-link", 1),
    ("unresponsive", 1),
];

/// The device id of the demo's emulated serial board.
pub const DEMO_BOARD: &str = "demo-board";

/// Why a hub could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The engine refused (second hub on the data directory, corrupt file, ...).
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A file or a listener failed. (The I/O error is part of the message,
    /// not a separate cause, so it is said once.)
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        error: std::io::Error,
    },
    /// The certificate authority could not be made or loaded.
    #[error("the hub's certificate authority: {0}")]
    Tls(String),
    /// A setting given is not usable.
    #[error("{0}")]
    Config(String),
    /// A listener could not bind its address.
    #[error("cannot listen on {addr} (--{flag}): {reason}")]
    Listen {
        /// The option that sets the address (`mqtt`, `api`, ...).
        flag: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why, with what to do about it.
        reason: String,
        /// The kind of failure (`AddrInUse`, `PermissionDenied`, ...).
        kind: std::io::ErrorKind,
        /// Who holds the address, when it is in use and the system says
        /// (`mosquitto (pid 812)`); processes of other users are not always visible.
        holder: Option<String>,
    },
}

/// Turns a listener's bind failure into [`ServerError::Listen`], naming the
/// address and the option to change. Which of `candidates` failed is found
/// by trying to bind each again (the listeners of one component bind
/// together, and the error does not say which).
fn listen_error(
    candidates: &[(&'static str, Option<SocketAddr>)],
    e: std::io::Error,
) -> ServerError {
    let failing = candidates
        .iter()
        .filter_map(|(flag, a)| a.map(|a| (*flag, a)))
        .find(|(_, a)| a.port() != 0 && std::net::TcpListener::bind(a).is_err());
    let Some((flag, addr)) = failing else {
        let what = candidates
            .iter()
            .map(|(f, _)| format!("--{f}"))
            .collect::<Vec<_>>()
            .join(", ");
        return ServerError::Io {
            what: format!("cannot start the listeners ({what})"),
            error: e,
        };
    };
    let holder = (e.kind() == std::io::ErrorKind::AddrInUse)
        .then(|| port_holder(addr.port()))
        .flatten();
    let reason = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            let who = match &holder {
                Some(h) => format!("{h} has this port"),
                None => {
                    "another program has this port, a local MQTT broker or a second Hublet perhaps"
                        .into()
                }
            };
            format!(
                "the address is already in use ({who}): stop it, listen elsewhere with --{flag} HOST:PORT, or turn this listener off with --{flag} off"
            )
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need privileges): choose another port with --{flag} HOST:PORT"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "this machine has no such address: use 127.0.0.1, 0.0.0.0 or one of its own addresses with --{flag}"
        ),
        _ => e.to_string(),
    };
    ServerError::Listen {
        flag,
        addr,
        reason,
        kind: e.kind(),
        holder,
    }
}

/// The process listening on TCP `port`, as `name (pid N)`, if the system
/// tells (the `listeners` crate reads it from /proc on Linux; another
/// user's process is only visible to root).
pub fn port_holder(port: u16) -> Option<String> {
    let p = listeners::get_process_by_port(port, listeners::Protocol::TCP).ok()?;
    Some(format!("{} (pid {})", p.name, p.pid))
}

/// A listener's address from the command line: `off` (any case) for none.
/// Shared by `hublet serve` and the desktop app, whose flags are the same.
pub fn listen_addr(flag: &str, v: &str) -> Result<Option<SocketAddr>, ServerError> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| {
        ServerError::Config(format!(
            "--{flag} '{v}' is not an address like 127.0.0.1:1883 (or 'off')"
        ))
    })
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let what = what.into();
    move |error| ServerError::Io { what, error }
}

/// Everything a hub is started with. [`ServeConfig::new`] gives
/// `hublet serve`'s defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Database, CA, token, profiles, `hub.json`.
    pub data_dir: PathBuf,
    /// MQTT over plain TCP.
    pub mqtt: Option<SocketAddr>,
    /// MQTT over TLS.
    pub mqtts: Option<SocketAddr>,
    /// The REST API over HTTP.
    pub api: Option<SocketAddr>,
    /// The REST API over HTTPS (which also takes AMQP connections).
    pub https: Option<SocketAddr>,
    /// IoT Hub's AMQP service endpoint over TLS (C2D send, feedback).
    pub amqps: Option<SocketAddr>,
    /// When `https` is a privileged port (IoT Hub's 443) that this process
    /// may not bind, listen here instead and say once how to grant the
    /// privilege. `None`: fail instead.
    pub https_fallback: Option<SocketAddr>,
    /// When an API address is taken, listen on any free port instead (the
    /// desktop app does: the UI finds the API wherever it is).
    pub api_port_fallback: bool,
    /// The HostName in connection strings (stored).
    pub hub_name: Option<String>,
    /// Other names of the hub (stored).
    pub host_aliases: Vec<String>,
    /// Extra `Host` names the API accepts.
    pub allow_hosts: Vec<String>,
    /// Extra browser origins the API accepts.
    pub allow_origins: Vec<String>,
    /// C2D messages in flight per MQTT device.
    pub c2d_inflight: usize,
    /// Commit durability.
    pub durability: Durability,
    /// Accept devices without SAS (stored).
    pub open_bench: bool,
    /// Start the demo fleet and an emulated serial board.
    pub demo: bool,
    /// Serve the built UI from this directory at `/`.
    pub ui_dir: Option<PathBuf>,
}

impl ServeConfig {
    /// `hublet serve`'s defaults on `data_dir`: MQTT on 1883 and 8883 on
    /// every interface, the API on loopback 8480 and IoT Hub's HTTPS port
    /// 443 (8443 where this user may not bind 443), AMQP on loopback 5671.
    pub fn new(data_dir: PathBuf) -> ServeConfig {
        let any = |p: u16| Some(SocketAddr::from(([0, 0, 0, 0], p)));
        let lo = |p: u16| Some(SocketAddr::from(([127, 0, 0, 1], p)));
        ServeConfig {
            data_dir,
            mqtt: any(1883),
            mqtts: any(8883),
            api: lo(8480),
            https: lo(443),
            https_fallback: lo(8443),
            amqps: lo(5671),
            api_port_fallback: false,
            hub_name: None,
            host_aliases: Vec::new(),
            allow_hosts: Vec::new(),
            allow_origins: Vec::new(),
            c2d_inflight: hublet_mqtt::DEFAULT_C2D_INFLIGHT,
            durability: Durability::Full,
            open_bench: false,
            demo: false,
            ui_dir: None,
        }
    }
}

/// What [`start`] did, for the banner or the window.
#[derive(Debug, Clone, Default)]
pub struct StartReport {
    /// Simulated devices restarted from an earlier run.
    pub sims_restored: usize,
    /// Demo devices started now.
    pub demo_devices: usize,
    /// Serial boards restored from an earlier run.
    pub boards_restored: usize,
    /// The demo's emulated board's port.
    pub demo_board_port: Option<String>,
    /// Things that did not start, in words.
    pub warnings: Vec<String>,
}

/// A running hub.
pub struct RunningHub {
    /// The engine.
    pub hub: Hub,
    /// Where it listens.
    pub listeners: ListenersDto,
    /// The API's bearer token.
    pub token: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// `http://127.0.0.1:8480`, when the API listens over HTTP.
    pub api_url: Option<String>,
    /// The local certificate authority, when a TLS listener runs.
    pub pki: Option<LocalPki>,
    /// What was started.
    pub report: StartReport,
    /// The simulator, when an MQTT listener runs.
    pub sim: Option<Simulator>,
    /// The serial bridge.
    pub serial: SerialBridge,
    gateway: Gateway,
    api_server: ApiServer,
    amqp: AmqpServer,
    demo_board: Option<Emulator>,
}

/// Starts a whole hub.
pub async fn start(cfg: ServeConfig) -> Result<RunningHub, ServerError> {
    let dir = cfg.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(io(format!(
        "cannot create data directory {}",
        dir.display()
    )))?;
    if let Some(d) = &cfg.ui_dir
        && !d.join("index.html").is_file()
    {
        return Err(ServerError::Config(format!(
            "{} has no index.html; build the UI first with `npm run build:ui`",
            d.display()
        )));
    }
    if !C2D_INFLIGHT_RANGE.contains(&cfg.c2d_inflight) {
        return Err(ServerError::Config(format!(
            "--c2d-inflight must be between {} and {} (got {})",
            C2D_INFLIGHT_RANGE.start(),
            C2D_INFLIGHT_RANGE.end(),
            cfg.c2d_inflight
        )));
    }
    let hub = Hub::open(HubOptions::new(dir.join(hublet_core::DB_FILE)).durability(cfg.durability))
        .await?;
    let mut parts = Parts {
        hub: hub.clone(),
        gateway: None,
        api_server: None,
        amqp: None,
        sim: None,
        serial: None,
        demo_board: None,
    };
    match assemble(&cfg, &mut parts).await {
        Ok(r) => Ok(r),
        Err(e) => {
            // Undo what started, so the data directory is free again.
            parts.abort().await;
            Err(e)
        }
    }
}

/// What has started so far, to be stopped if a later step fails.
struct Parts {
    hub: Hub,
    gateway: Option<Gateway>,
    api_server: Option<ApiServer>,
    amqp: Option<AmqpServer>,
    sim: Option<Simulator>,
    serial: Option<SerialBridge>,
    demo_board: Option<Emulator>,
}

impl Parts {
    async fn abort(self) {
        if let Some(s) = &self.sim {
            s.shutdown().await;
        }
        drop(self.demo_board);
        if let Some(s) = &self.serial {
            s.shutdown().await;
        }
        if let Some(g) = self.gateway {
            g.shutdown().await;
        }
        if let Some(a) = self.api_server {
            a.shutdown().await;
        }
        if let Some(a) = self.amqp {
            a.shutdown().await;
        }
        let _ = self.hub.close().await;
    }
}

async fn assemble(cfg: &ServeConfig, parts: &mut Parts) -> Result<RunningHub, ServerError> {
    let dir = cfg.data_dir.clone();
    let hub = parts.hub.clone();
    apply_settings(&hub, cfg).await?;
    let settings = hub.settings();

    let pki = if cfg.mqtts.is_some() || cfg.https.is_some() || cfg.amqps.is_some() {
        let mut names = vec![settings.hub_name.clone()];
        names.extend(settings.host_aliases.iter().cloned());
        let names: Vec<String> = names.into_iter().map(|n| strip_port(&n)).collect();
        Some(
            LocalPki::load_or_create(&dir.join("tls"), &names)
                .map_err(|e| ServerError::Tls(e.to_string()))?,
        )
    } else {
        None
    };
    let tls_config = match &pki {
        Some(p) => Some(
            p.server_config()
                .map_err(|e| ServerError::Tls(e.to_string()))?,
        ),
        None => None,
    };

    // Raise the descriptor limit and split it between the listeners, so
    // that one flooded port cannot stop the others accepting.
    let budget = hublet_net::Budget::acquire();
    let gateway_defaults = GatewayConfig::default();
    let gateway = parts.gateway.insert(
        Gateway::start(
            hub.clone(),
            GatewayConfig {
                tcp: cfg.mqtt,
                tls: cfg.mqtts.zip(tls_config.clone()),
                c2d_inflight: cfg.c2d_inflight,
                max_connections: budget.cap(
                    hublet_net::Share::MQTT,
                    2,
                    gateway_defaults.max_connections,
                ),
                ..gateway_defaults
            },
        )
        .await
        .map_err(|e| listen_error(&[("mqtt", cfg.mqtt), ("mqtts", cfg.mqtts)], e))?,
    );
    let (gw_tcp, gw_tls) = (gateway.tcp_addr(), gateway.tls_addr());
    let mut amqp_warning = None;
    let amqp = match (cfg.amqps, &tls_config) {
        (Some(addr), Some(tls)) => {
            let config = AmqpConfig {
                addr,
                tls: tls.clone(),
                max_connections: budget.cap(hublet_net::Share::AMQP, 1, 1_000),
            };
            match AmqpServer::start(hub.clone(), config).await {
                Ok(a) => a,
                // The desktop app starts anyway: AMQP still works on the
                // HTTPS port, for the SDKs that dial the connection string's port.
                Err(e) if cfg.api_port_fallback && e.kind() == std::io::ErrorKind::AddrInUse => {
                    amqp_warning = Some(format!(
                        "AMQP port {addr} is taken ({e}); AMQP is served on the HTTPS port only"
                    ));
                    AmqpServer::detached(hub.clone())
                }
                Err(e) => return Err(listen_error(&[("amqps", cfg.amqps)], e)),
            }
        }
        // No listener of its own: it still serves AMQP on the HTTPS port.
        _ => AmqpServer::detached(hub.clone()),
    };
    let amqp = parts.amqp.insert(amqp).clone();

    let token = hubfile::token(&dir, true)
        .map_err(io("cannot read or create the API token"))?
        .unwrap_or_default();
    let mut state = AppState::new(
        hub.clone(),
        token.clone(),
        SecurityConfig {
            allowed_hosts: cfg.allow_hosts.clone(),
            allowed_origins: cfg.allow_origins.clone(),
        },
        ServerFacts {
            version: env!("CARGO_PKG_VERSION").into(),
            ca_pem: pki.as_ref().map(|p| p.ca_pem().to_string()),
            ca_path: pki.as_ref().map(|p| p.ca_path().display().to_string()),
            ..ServerFacts::default()
        },
    );
    parts.sim = simulator(&hub, &dir, gw_tcp, gw_tls, pki.as_ref())?;
    let serial = parts.serial.insert(SerialBridge::new(hub.clone())).clone();
    state = state.with_serial(serial.clone());
    if let Some(d) = &cfg.ui_dir {
        state = state.with_ui(d.clone());
    }
    if let Some(s) = &parts.sim {
        state = state.with_sim(s.clone());
    }
    state = state.with_amqp(amqp.clone());
    let mut report = StartReport::default();
    let api_server = parts
        .api_server
        .insert(start_api(&state, cfg, tls_config, budget, &mut report).await?);
    let listeners = ListenersDto {
        api: api_server.http_addr().map(|a| a.to_string()),
        https: api_server.https_addr().map(|a| a.to_string()),
        mqtt: gw_tcp.map(|a| a.to_string()),
        mqtts: gw_tls.map(|a| a.to_string()),
        amqps: amqp.addr().map(|a| a.to_string()),
        ports: ports::mode(api_server.https_addr(), cfg.https),
    };
    state
        .info
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .listeners = listeners.clone();
    let api_url = api_server
        .http_addr()
        .map(|a| format!("http://{}", url_host(a)));
    hubfile::write(
        &dir,
        &HubFile {
            api: api_url.clone(),
            https: api_server
                .https_addr()
                .map(|a| format!("https://{}", hublet_api::https_host(&a.to_string()))),
            mqtt: listeners.mqtt.clone(),
            mqtts: listeners.mqtts.clone(),
            pid: std::process::id(),
        },
    )
    .map_err(io("cannot write hub.json"))?;

    report.warnings.extend(amqp_warning);
    let devices = async {
        if let Some(s) = &parts.sim {
            s.set_http(api_url.clone());
            start_simulated(s, cfg.demo, &mut report).await?;
        } else if cfg.demo {
            report
                .warnings
                .push("the demo needs an MQTT listener; no simulated devices started".into());
        }
        start_serial(&serial, cfg.demo, &mut report).await
    };
    parts.demo_board = match devices.await {
        Ok(b) => b,
        Err(e) => {
            // No hub.json may outlive a start that failed: the CLI would
            // believe a hub runs there.
            let _ = std::fs::remove_file(hubfile::hub_file(&dir));
            return Err(e);
        }
    };
    let (Some(gateway), Some(api_server), Some(amqp)) = (
        parts.gateway.take(),
        parts.api_server.take(),
        parts.amqp.take(),
    ) else {
        return Err(ServerError::Config(
            "the listeners vanished while starting".into(),
        ));
    };
    Ok(RunningHub {
        hub,
        listeners,
        token,
        data_dir: dir,
        api_url,
        pki,
        report,
        sim: parts.sim.take(),
        serial,
        gateway,
        api_server,
        amqp,
        demo_board: parts.demo_board.take(),
    })
}

impl RunningHub {
    /// The API's HTTP address.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_server.http_addr()
    }

    /// Stops everything in order (devices first, the engine last, every
    /// accepted write committed) and removes `hub.json`.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        if let Some(s) = &self.sim {
            s.shutdown().await;
        }
        if let Some(emu) = self.demo_board {
            // The emulator's pseudo-terminal dies with this process; do not
            // leave a binding that would search for it forever.
            let _ = self.serial.unbind(DEMO_BOARD).await;
            emu.unplug();
        }
        self.serial.shutdown().await;
        self.gateway.shutdown().await;
        self.api_server.shutdown().await;
        self.amqp.shutdown().await;
        self.hub.close().await?;
        let _ = std::fs::remove_file(hubfile::hub_file(&self.data_dir));
        Ok(())
    }
}

async fn start_api(
    state: &AppState,
    cfg: &ServeConfig,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    budget: hublet_net::Budget,
    report: &mut StartReport,
) -> Result<ApiServer, ServerError> {
    let defaults = hublet_api::Limits::default();
    let limits = hublet_api::Limits {
        max_connections: budget.cap(hublet_net::Share::API, 2, defaults.max_connections),
        ..defaults
    };
    let mut https = cfg.https;
    if let (Some(want), Some(instead)) = (cfg.https, cfg.https_fallback)
        && want.port() != 0
        && want.port() < 1024
        && let Err(e) = std::net::TcpListener::bind(want)
        && e.kind() == std::io::ErrorKind::PermissionDenied
    {
        report
            .warnings
            .push(ports::privileged_fallback(want, instead));
        https = Some(instead);
    }
    match ApiServer::start(state.clone(), cfg.api, https.zip(tls.clone()), limits).await {
        Ok(s) => Ok(s),
        Err(e) if cfg.api_port_fallback && e.kind() == std::io::ErrorKind::AddrInUse => {
            let any_port = |a: Option<SocketAddr>| a.map(|a| SocketAddr::new(a.ip(), 0));
            tracing::warn!("API port taken ({e}); listening on a free port instead");
            ApiServer::start(
                state.clone(),
                any_port(cfg.api),
                any_port(https).zip(tls),
                limits,
            )
            .await
            .map_err(|e| listen_error(&[("api", cfg.api), ("https", https)], e))
        }
        Err(e) => Err(listen_error(&[("api", cfg.api), ("https", https)], e)),
    }
}

/// Restores the saved boards and, for the demo, plugs in an emulated board
/// so the serial console can be tried without hardware.
async fn start_serial(
    serial: &SerialBridge,
    demo: bool,
    report: &mut StartReport,
) -> Result<Option<Emulator>, ServerError> {
    report.boards_restored = serial.restore().await?;
    if !demo {
        return Ok(None);
    }
    match Emulator::start(Some(DEMO_BOARD)) {
        Ok(emu) => {
            emu.set_heartbeat(Some(std::time::Duration::from_secs(5)));
            serial
                .bind(emu.path(), DEMO_BOARD, SerialSettings::default(), false)
                .await?;
            report.demo_board_port = Some(emu.path().to_string());
            Ok(Some(emu))
        }
        Err(e) => {
            report
                .warnings
                .push(format!("no emulated serial board for the demo: {e}"));
            Ok(None)
        }
    }
}

/// The simulator, pointed at this hub's own listeners (plain MQTT when
/// there is one, else MQTT/TLS with the hub's CA; HTTP API for reject/abandon).
fn simulator(
    hub: &Hub,
    dir: &Path,
    tcp: Option<SocketAddr>,
    tls: Option<SocketAddr>,
    pki: Option<&LocalPki>,
) -> Result<Option<Simulator>, ServerError> {
    let loopback = |a: SocketAddr| -> SocketAddr {
        if a.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), a.port())
        } else {
            a
        }
    };
    let (mqtt, tls) = match (tcp, tls, pki) {
        (Some(a), _, _) => (loopback(a), None),
        (None, Some(a), Some(p)) => (
            loopback(a),
            Some(
                p.client_config()
                    .map_err(|e| ServerError::Tls(e.to_string()))?,
            ),
        ),
        _ => return Ok(None),
    };
    Ok(Some(Simulator::new(
        hub.clone(),
        Target {
            mqtt,
            tls,
            http: None,
        },
        Some(dir.join("profiles")),
    )))
}

async fn start_simulated(
    sim: &Simulator,
    demo: bool,
    report: &mut StartReport,
) -> Result<(), ServerError> {
    report.sims_restored = sim.restore().await?;
    if !demo {
        return Ok(());
    }
    // The demo reuses its own devices from earlier runs and starts what is
    // missing of each profile; a user's own fleets neither suppress it nor
    // are touched, and ids a real device holds are skipped (the simulator
    // takes the next free numbers).
    let running = sim.list();
    for (profile, count) in DEMO_FLEET {
        let have = running.iter().filter(|s| s.profile == profile).count();
        let missing = (count as usize).saturating_sub(have);
        if missing == 0 {
            continue;
        }
        let started = sim
            .start(FleetRequest {
                profile: profile.into(),
                count: Some(missing),
                prefix: None,
                seed: None,
                persist: true,
                ids: Vec::new(),
            })
            .await;
        match started {
            Ok(ids) => report.demo_devices += ids.len(),
            Err(e) => report.warnings.push(format!(
                "demo devices of profile '{profile}' not started: {e}"
            )),
        }
    }
    Ok(())
}

async fn apply_settings(hub: &Hub, cfg: &ServeConfig) -> Result<(), ServerError> {
    let mut s: HubSettings = hub.settings().as_ref().clone();
    let before = s.clone();
    if let Some(n) = &cfg.hub_name {
        s.hub_name = n.clone();
    }
    for alias in &cfg.host_aliases {
        if !s.host_aliases.contains(alias) {
            s.host_aliases.push(alias.clone());
        }
    }
    if cfg.open_bench {
        s.open_bench = true;
    }
    if s != before {
        hub.update_settings(s).await?;
    }
    Ok(())
}

fn strip_port(n: &str) -> String {
    match n.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h.to_string(),
        _ => n.to_string(),
    }
}

/// `host:port` for a URL: an unspecified address becomes loopback.
pub fn url_host(a: SocketAddr) -> String {
    if a.ip().is_unspecified() {
        format!("127.0.0.1:{}", a.port())
    } else {
        a.to_string()
    }
}
