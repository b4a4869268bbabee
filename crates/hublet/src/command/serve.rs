//! `hublet serve`: the whole hub, headless. The composition itself is in
//! `hublet-server` (shared with the desktop app); this is its command line
//! and its banner.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use hublet_core::Durability;
use hublet_server::{
    DEMO_BOARD, RunningHub, ServeConfig, ServerError, hubfile, listen_addr, url_host,
};
use serde::Serialize;

use super::Global;
use crate::client::ClientError;
use crate::exit::codes;

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// fsync every commit: survives power loss.
    Full,
    /// No fsync: survives a crash of the process, not a power loss.
    Normal,
}

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
    /// The REST API over HTTPS with the hub's CA (IoT Hub's service and device paths for the
    /// Azure SDKs), on IoT Hub's port 443 so that connection strings name no port.
    /// AMQP connections arriving on this port are served too.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:443")]
    pub https: String,
    /// Where HTTPS listens when this user may not bind --https's privileged port
    /// (`off`: fail instead). The hub says how to grant the privilege.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:8443")]
    pub https_fallback: String,
    /// IoT Hub's AMQP service endpoint over TLS (C2D send and feedback from
    /// the Azure service SDKs). Loopback by default, like the API.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:5671")]
    pub amqps: String,
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
    #[arg(long, value_name = "N", default_value_t = hublet_server::DEFAULT_C2D_INFLIGHT,
          value_parser = c2d_window)]
    pub c2d_inflight: usize,
    /// fsync every commit (`full`, survives power loss) or not (`normal`, survives a crash).
    #[arg(long, value_enum, default_value = "full")]
    pub durability: DurabilityArg,
    /// Accept devices without a SAS token (stored; off by default).
    #[arg(long)]
    pub open_bench: bool,
    /// Start the demo fleet of simulated devices (created on first use,
    /// kept across restarts): two thermostats, a door lock, a sleepy sensor,
    /// a device on a flaky link and one that never answers.
    #[arg(long)]
    pub demo: bool,
    /// Serve the web UI (the built `ui/dist`, or DIR) at the API's address,
    /// for browsers: a classroom's trainees open the printed link.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "ui/dist")]
    pub ui: Option<PathBuf>,
}

/// `--c2d-inflight`: checked by clap, so a bad value is a usage error (exit 2).
fn c2d_window(v: &str) -> Result<usize, String> {
    let r = hublet_server::C2D_INFLIGHT_RANGE;
    match v.parse::<usize>() {
        Ok(n) if r.contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from {} to {}",
            r.start(),
            r.end()
        )),
    }
}

/// A setting the hub refuses is bad input (exit 2); anything else is a failure.
fn server_error(e: ServerError) -> anyhow::Error {
    match e {
        ServerError::Config(m) => ClientError::Exit(codes::BAD_INPUT, m).into(),
        ServerError::Hub(h) if h.code() == hublet_core::ErrorCode::ArgumentInvalid => {
            ClientError::Exit(codes::BAD_INPUT, h.to_string()).into()
        }
        other => other.into(),
    }
}

/// The command line as the server's configuration.
fn config(dir: PathBuf, a: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let durability = match a.durability {
        DurabilityArg::Full => Durability::Full,
        DurabilityArg::Normal => Durability::Normal,
    };
    let addr = |flag, v: &str| listen_addr(flag, v).map_err(server_error);
    Ok(ServeConfig {
        mqtt: addr("mqtt", &a.mqtt)?,
        mqtts: addr("mqtts", &a.mqtts)?,
        api: addr("api", &a.api)?,
        https: addr("https", &a.https)?,
        https_fallback: addr("https-fallback", &a.https_fallback)?,
        amqps: addr("amqps", &a.amqps)?,
        hub_name: a.hub_name.clone(),
        host_aliases: a.host_aliases.clone(),
        allow_hosts: a.allow_hosts.clone(),
        allow_origins: a.allow_origins.clone(),
        c2d_inflight: a.c2d_inflight,
        durability,
        open_bench: a.open_bench,
        demo: a.demo,
        ui_dir: a.ui.clone(),
        ..ServeConfig::new(dir)
    })
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(g: &Global, a: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let cfg = config(g.data_dir(), &a)?;
    let running = hublet_server::start(cfg).await.map_err(server_error)?;
    if g.json {
        crate::output::json(&ready(&running, &a));
    } else {
        print_banner(&running, &a);
    }
    wait_for_signal().await;
    if !g.json {
        eprintln!("stopping: closing connections and committing what is in flight…");
    }
    running.shutdown().await?;
    if !g.json {
        eprintln!("stopped");
    }
    Ok(())
}

/// What `serve --json` prints once the hub is ready: one document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ready {
    version: &'static str,
    hub_name: String,
    database: String,
    listeners: hublet_api::dto::ListenersDto,
    ca_path: Option<String>,
    token_file: String,
    ui: Option<String>,
    /// The service connection string (iothubowner), for the Azure service SDKs.
    service_connection_string: Option<String>,
    sims_restored: usize,
    demo_devices: usize,
    boards_restored: usize,
    demo_board_port: Option<String>,
    warnings: Vec<String>,
}

fn ready(r: &RunningHub, a: &ServeArgs) -> Ready {
    let s = r.hub.settings();
    let l = &r.listeners;
    let https_host = l.https.as_deref().map(hublet_api::https_host);
    Ready {
        version: env!("CARGO_PKG_VERSION"),
        hub_name: s.hub_name.clone(),
        database: r.hub.db_path().display().to_string(),
        listeners: l.clone(),
        ca_path: r.pki.as_ref().map(|p| p.ca_path().display().to_string()),
        token_file: token_path(&r.data_dir).display().to_string(),
        ui: a
            .ui
            .as_ref()
            .and(r.api_addr())
            .map(|api| format!("http://{}/?token={}", url_host(api), r.token)),
        service_connection_string: r
            .hub
            .registry()
            .service_connection_string(None, https_host.as_deref())
            .ok(),
        sims_restored: r.report.sims_restored,
        demo_devices: r.report.demo_devices,
        boards_restored: r.report.boards_restored,
        demo_board_port: r.report.demo_board_port.clone(),
        warnings: r.report.warnings.clone(),
    }
}

fn print_banner(r: &RunningHub, a: &ServeArgs) {
    let s = r.hub.settings();
    let l = &r.listeners;
    println!(
        "Hublet {} — hub '{}'",
        env!("CARGO_PKG_VERSION"),
        s.hub_name
    );
    println!("  database   {}", r.hub.db_path().display());
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
        "REST API over TLS (Azure IoT service SDKs; AMQP too)",
    );
    show(
        "amqps",
        &l.amqps,
        "AMQP over TLS (C2D send and feedback from the service SDKs)",
    );
    println!("  ports      {}", ports_line(l));
    if let Some(p) = &r.pki {
        println!("  CA         {}", p.ca_path().display());
    }
    println!("  token      {}", token_path(&r.data_dir).display());
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
    if a.ui.is_some()
        && let Some(api) = r.api_addr()
    {
        println!("  ui         http://{}/?token={}", url_host(api), r.token);
        if api.ip().is_unspecified() {
            println!(
                "             (from other machines: this machine's address instead of 127.0.0.1)"
            );
        }
    }
    let rep = &r.report;
    if rep.sims_restored > 0 {
        println!(
            "  simulator  {} simulated device(s) restarted",
            rep.sims_restored
        );
    }
    if rep.demo_devices > 0 {
        println!(
            "  demo       {} simulated devices started (hublet sim list)",
            rep.demo_devices
        );
    }
    if rep.boards_restored > 0 {
        println!(
            "  serial     {} board(s) restored (hublet serial list)",
            rep.boards_restored
        );
    }
    if let Some(port) = &rep.demo_board_port {
        println!(
            "  demo       emulated serial board '{DEMO_BOARD}' on {port} (hublet serial console {DEMO_BOARD})"
        );
    }
    for w in &rep.warnings {
        eprintln!("warning: {w}");
    }
}

/// Which ports are in force, in words, and what connection strings say.
fn ports_line(l: &hublet_api::dto::ListenersDto) -> String {
    use hublet_api::dto::PortsMode;
    let host = l
        .https
        .as_deref()
        .map(hublet_api::https_host)
        .unwrap_or_default();
    match l.ports {
        PortsMode::Standard => {
            "IoT Hub's standard ports: connection strings say HostName=localhost, no port".into()
        }
        PortsMode::Fallback => format!(
            "fallback: HTTPS is not on 443, so service connection strings say HostName={host} (see the warning below)"
        ),
        PortsMode::Custom => format!("as given: service connection strings say HostName={host}"),
        PortsMode::NoHttps => {
            "no HTTPS listener: the Azure service SDKs cannot reach this hub over HTTPS".into()
        }
    }
}

fn token_path(dir: &Path) -> PathBuf {
    dir.join(hubfile::TOKEN_FILE)
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
