//! `hublet serve`: the whole hub, headless.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Args;
use hublet_api::dto::ListenersDto;
use hublet_api::{ApiServer, AppState, SecurityConfig, ServerFacts};
use hublet_core::{Durability, Hub, HubOptions, HubSettings};
use hublet_mqtt::{Gateway, GatewayConfig};
use hublet_serial::{Emulator, SerialBridge, SerialSettings};
use hublet_sim::{FleetRequest, Simulator, Target};
use hublet_tls::LocalPki;

use super::Global;
use crate::hubfile::{self, HubFile};

/// Where to listen; `off` disables a listener.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// MQTT over plain TCP, for bench firmware without TLS.
    #[arg(long, value_name = "ADDR|off", default_value = "0.0.0.0:1883")]
    pub mqtt: String,
    /// MQTT over TLS with the hub's CA (the Azure IoT device SDKs dial port 8883).
    #[arg(long, value_name = "ADDR|off", default_value = "0.0.0.0:8883")]
    pub mqtts: String,
    /// Hublet's REST API over plain HTTP. Loopback by default: binding it to
    /// another address exposes the API (token-protected) to the network.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:8480")]
    pub api: String,
    /// The REST API over HTTPS with the hub's CA (IoT Hub's service paths for the Azure service SDK).
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:8443")]
    pub https: String,
    /// The HostName written into connection strings (stored; kept for later runs).
    #[arg(long, value_name = "NAME")]
    pub hub_name: Option<String>,
    /// Another name the hub answers to in SAS tokens and its TLS certificate (repeatable; stored).
    #[arg(long = "host-alias", value_name = "NAME")]
    pub host_aliases: Vec<String>,
    /// Another host name accepted in the API's Host header (repeatable).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// A web origin allowed to call the API from a browser, e.g. http://localhost:5173 (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// C2D messages sent ahead of their PUBACK per MQTT device (1 to 64).
    #[arg(long, value_name = "N", default_value_t = hublet_mqtt::DEFAULT_C2D_INFLIGHT)]
    pub c2d_inflight: usize,
    /// fsync every commit (`full`, survives power loss) or not (`normal`, survives a crash).
    #[arg(long, value_name = "full|normal", default_value = "full")]
    pub durability: String,
    /// Accept devices without a SAS token (stored; off by default).
    #[arg(long)]
    pub open_bench: bool,
    /// Start the demo fleet of simulated devices (created on first use,
    /// kept across restarts): two thermostats, a door lock, a sleepy sensor,
    /// a device on a flaky link and one that never answers.
    #[arg(long)]
    pub demo: bool,
}

/// The demo fleet: (profile, count).
pub const DEMO_FLEET: [(&str, u32); 5] = [
    ("thermostat", 2),
    ("door-lock", 1),
    ("sleepy-sensor", 1),
    ("flaky-link", 1),
    ("unresponsive", 1),
];

fn addr(flag: &str, v: &str) -> anyhow::Result<Option<SocketAddr>> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let a: SocketAddr = v.parse().with_context(|| {
        format!("--{flag} '{v}' is not an address like 127.0.0.1:1883 (or 'off')")
    })?;
    Ok(Some(a))
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(g: &Global, a: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let dir = g.data_dir();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let durability = match a.durability.as_str() {
        "full" => Durability::Full,
        "normal" => Durability::Normal,
        other => anyhow::bail!("--durability '{other}' is not 'full' or 'normal'"),
    };
    if !(1..=64).contains(&a.c2d_inflight) {
        anyhow::bail!("--c2d-inflight must be between 1 and 64");
    }
    let (mqtt, mqtts, api, https) = (
        addr("mqtt", &a.mqtt)?,
        addr("mqtts", &a.mqtts)?,
        addr("api", &a.api)?,
        addr("https", &a.https)?,
    );
    let db = dir.join(hublet_core::DB_FILE);
    let hub = Hub::open(HubOptions::new(&db).durability(durability)).await?;
    apply_settings(&hub, &a).await?;
    let settings = hub.settings();

    let tls_needed = mqtts.is_some() || https.is_some();
    let pki = if tls_needed {
        let mut names = vec![settings.hub_name.clone()];
        names.extend(settings.host_aliases.iter().cloned());
        let names: Vec<String> = names.into_iter().map(|n| strip_port(&n)).collect();
        Some(LocalPki::load_or_create(&dir.join("tls"), &names)?)
    } else {
        None
    };
    let tls_config = match &pki {
        Some(p) => Some(p.server_config()?),
        None => None,
    };

    let gateway = Gateway::start(
        hub.clone(),
        GatewayConfig {
            tcp: mqtt,
            tls: mqtts.zip(tls_config.clone()),
            c2d_inflight: a.c2d_inflight,
            ..GatewayConfig::default()
        },
    )
    .await
    .context("cannot start the MQTT listeners")?;

    let token = hubfile::token(&dir, true)?.unwrap_or_default();
    let state = AppState::new(
        hub.clone(),
        token,
        SecurityConfig {
            allowed_hosts: a.allow_hosts.clone(),
            allowed_origins: a.allow_origins.clone(),
        },
        ServerFacts {
            version: env!("CARGO_PKG_VERSION").into(),
            ca_pem: pki.as_ref().map(|p| p.ca_pem().to_string()),
            ca_path: pki.as_ref().map(|p| p.ca_path().display().to_string()),
            ..ServerFacts::default()
        },
    );
    let sim = simulator(&hub, &dir, &gateway, pki.as_ref())?;
    let serial = SerialBridge::new(hub.clone());
    let state = state.with_serial(serial.clone());
    let state = match &sim {
        Some(s) => state.with_sim(s.clone()),
        None => state,
    };
    let api_server = ApiServer::start(state.clone(), api, https.zip(tls_config))
        .await
        .context("cannot start the API listeners")?;
    let listeners = ListenersDto {
        api: api_server.http_addr().map(|a| a.to_string()),
        https: api_server.https_addr().map(|a| a.to_string()),
        mqtt: gateway.tcp_addr().map(|a| a.to_string()),
        mqtts: gateway.tls_addr().map(|a| a.to_string()),
    };
    state
        .info
        .write()
        .map_err(|_| anyhow::anyhow!("state lock poisoned"))?
        .listeners = listeners.clone();
    hubfile::write(
        &dir,
        &HubFile {
            api: api_server
                .http_addr()
                .map(|a| format!("http://{}", url_host(a))),
            https: api_server
                .https_addr()
                .map(|a| format!("https://{}", hublet_api::https_host(&a.to_string()))),
            mqtt: listeners.mqtt.clone(),
            mqtts: listeners.mqtts.clone(),
            pid: std::process::id(),
        },
    )?;
    print_banner(&hub, &dir, &listeners, pki.as_ref(), &a);
    if let Some(s) = &sim {
        s.set_http(
            api_server
                .http_addr()
                .map(|a| format!("http://{}", url_host(a))),
        );
        start_simulated(s, a.demo).await?;
    } else if a.demo {
        eprintln!("warning: --demo needs an MQTT listener; no simulated devices started");
    }
    let demo_board = start_serial(&serial, a.demo).await?;

    wait_for_signal().await;
    eprintln!("stopping: closing connections and committing what is in flight…");
    if let Some(s) = &sim {
        s.shutdown().await;
    }
    if let Some(emu) = demo_board {
        // The emulator's pseudo-terminal dies with this process; do not
        // leave a binding that would search for it forever.
        let _ = serial.forget(DEMO_BOARD).await;
        emu.unplug();
    }
    serial.shutdown().await;
    gateway.shutdown().await;
    api_server.shutdown().await;
    hub.close().await?;
    let _ = std::fs::remove_file(hubfile::hub_file(&dir));
    eprintln!("stopped");
    Ok(())
}

/// The device id of the demo's emulated serial board.
const DEMO_BOARD: &str = "demo-board";

/// Restores the saved boards and, for `--demo`, plugs in an emulated board
/// so the serial console can be tried without hardware.
async fn start_serial(serial: &SerialBridge, demo: bool) -> anyhow::Result<Option<Emulator>> {
    let restored = serial.restore().await?;
    if restored > 0 {
        println!("  serial     {restored} board(s) restored (hublet serial list)");
    }
    if !demo {
        return Ok(None);
    }
    match Emulator::start(Some(DEMO_BOARD)) {
        Ok(emu) => {
            emu.set_heartbeat(Some(std::time::Duration::from_secs(5)));
            serial
                .attach(emu.path(), DEMO_BOARD, SerialSettings::default())
                .await?;
            println!(
                "  demo       emulated serial board '{DEMO_BOARD}' on {} (hublet serial console {DEMO_BOARD})",
                emu.path()
            );
            Ok(Some(emu))
        }
        Err(e) => {
            eprintln!("warning: no emulated serial board for the demo: {e}");
            Ok(None)
        }
    }
}

/// The simulator, pointed at this hub's own listeners (plain MQTT when
/// there is one, else MQTT/TLS with the hub's CA; HTTP API for reject/abandon).
fn simulator(
    hub: &Hub,
    dir: &Path,
    gw: &Gateway,
    pki: Option<&LocalPki>,
) -> anyhow::Result<Option<Simulator>> {
    let loopback = |a: SocketAddr| -> SocketAddr {
        if a.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), a.port())
        } else {
            a
        }
    };
    let (mqtt, tls) = match (gw.tcp_addr(), gw.tls_addr(), pki) {
        (Some(a), _, _) => (loopback(a), None),
        (None, Some(a), Some(p)) => (loopback(a), Some(p.client_config()?)),
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

async fn start_simulated(sim: &Simulator, demo: bool) -> anyhow::Result<()> {
    let restored = sim.restore().await?;
    if restored > 0 {
        println!("  simulator  {restored} simulated device(s) restarted");
    }
    if demo && restored == 0 {
        let mut n = 0;
        for (profile, count) in DEMO_FLEET {
            n += sim
                .start(FleetRequest {
                    profile: profile.into(),
                    count: Some(count as usize),
                    prefix: None,
                    seed: None,
                    persist: true,
                })
                .await?
                .len();
        }
        println!("  demo       {n} simulated devices started (hublet sim list)");
    }
    Ok(())
}

async fn apply_settings(hub: &Hub, a: &ServeArgs) -> anyhow::Result<()> {
    let mut s: HubSettings = hub.settings().as_ref().clone();
    let before = s.clone();
    if let Some(n) = &a.hub_name {
        s.hub_name = n.clone();
    }
    for alias in &a.host_aliases {
        if !s.host_aliases.contains(alias) {
            s.host_aliases.push(alias.clone());
        }
    }
    if a.open_bench {
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

fn url_host(a: SocketAddr) -> String {
    if a.ip().is_unspecified() {
        format!("127.0.0.1:{}", a.port())
    } else {
        a.to_string()
    }
}

fn print_banner(hub: &Hub, dir: &Path, l: &ListenersDto, pki: Option<&LocalPki>, a: &ServeArgs) {
    let s = hub.settings();
    println!(
        "Hublet {} — hub '{}'",
        env!("CARGO_PKG_VERSION"),
        s.hub_name
    );
    println!("  database   {}", hub.db_path().display());
    let show = |name: &str, v: &Option<String>, what: &str| match v {
        Some(addr) => println!("  {name:<10} {addr:<22} {what}"),
        None => println!("  {name:<10} off"),
    };
    show("mqtt", &l.mqtt, "MQTT (plain TCP)");
    show("mqtts", &l.mqtts, "MQTT over TLS (Azure IoT device SDKs)");
    show("api", &l.api, "REST API (HTTP)");
    show(
        "https",
        &l.https,
        "REST API over TLS (Azure IoT service SDK)",
    );
    if let Some(p) = pki {
        println!("  CA         {}", p.ca_path().display());
    }
    println!("  token      {}", dir.join(hubfile::TOKEN_FILE).display());
    if let Some(api) = &l.api
        && let Ok(addr) = api.parse::<SocketAddr>()
        && !addr.ip().is_loopback()
    {
        println!(
            "  note: the REST API listens on {api}, reachable from the network (--api {}); it still needs the token",
            a.api
        );
    }
    if s.open_bench {
        println!("  note: open bench is on: registered devices may connect without a SAS token");
    }
    println!("Press Ctrl-C to stop.");
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUBLET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
