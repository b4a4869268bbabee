//! The Hublet desktop app: a thin Tauri shell.
//!
//! It starts the same hub as `hublet serve` (through `hublet-server`) on the
//! user's data directory, opens a window on the UI, and adds only what a
//! desktop gives: native menus, file dialogs for export and import, OS
//! notifications, and a single instance. The UI talks to the hub through
//! its REST API like any browser would; the shell hands it the address and
//! token before it loads. No hub logic lives here.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod files;
mod menu;
mod notify;
mod startup_env;

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use clap::Parser;
use hublet_server::{RunningHub, ServeConfig, listen_addr};
use tauri::{Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

/// Command-line options (the defaults suit a developer's machine).
#[derive(Debug, Parser)]
#[command(
    name = "hublet-desktop",
    version,
    about = "Hublet: a local, offline mini IoT hub, with its desktop app"
)]
struct Args {
    /// Data directory (shared with the `hublet` CLI, which finds this hub there).
    #[arg(long, env = "HUBLET_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Start the demo fleet of simulated devices and an emulated serial board.
    #[arg(long)]
    demo: bool,
    /// MQTT over plain TCP (`off` to disable).
    #[arg(long, value_name = "ADDR|off", default_value = "0.0.0.0:1883")]
    mqtt: String,
    /// MQTT over TLS (`off` to disable).
    #[arg(long, value_name = "ADDR|off", default_value = "0.0.0.0:8883")]
    mqtts: String,
    /// The REST API the UI uses (a free port is taken if this one is busy).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8480")]
    api: String,
    /// The REST API over HTTPS (`off` to disable), on IoT Hub's port 443 so that
    /// connection strings name no port; AMQP is served there too.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:443")]
    https: String,
    /// Where HTTPS listens when this user may not bind --https's privileged port.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:8443")]
    https_fallback: String,
    /// IoT Hub's AMQP service endpoint over TLS (`off` to disable).
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:5671")]
    amqps: String,
}

/// The running hub, stopped when the app exits.
struct HubHandle(Mutex<Option<RunningHub>>);

fn config(a: &Args) -> anyhow::Result<ServeConfig> {
    let mut cfg = ServeConfig {
        mqtt: listen_addr("mqtt", &a.mqtt)?,
        mqtts: listen_addr("mqtts", &a.mqtts)?,
        api: listen_addr("api", &a.api)?,
        https: listen_addr("https", &a.https)?,
        https_fallback: listen_addr("https-fallback", &a.https_fallback)?,
        amqps: listen_addr("amqps", &a.amqps)?,
        api_port_fallback: true,
        demo: a.demo,
        ..ServeConfig::new(
            a.data_dir
                .clone()
                .unwrap_or_else(hublet_core::default_data_dir),
        )
    };
    if cfg.api.is_none() {
        anyhow::bail!("the desktop app needs its REST API: give --api an address");
    }
    if tauri::is_dev() {
        // `tauri dev` loads the UI from Vite's dev server.
        cfg.allow_origins.push("http://localhost:5173".into());
    }
    Ok(cfg)
}

fn main() -> anyhow::Result<()> {
    let env_fixes = startup_env::apply();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HUBLET_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    for fix in env_fixes {
        tracing::info!("environment: {fix}");
    }
    let args = Args::parse();
    let cfg = config(&args)?;

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![files::save_file, files::open_file])
        .setup(move |app| {
            let running = match tauri::async_runtime::block_on(hublet_server::start(cfg)) {
                Ok(r) => r,
                Err(e) => {
                    files::fatal(
                        app.handle(),
                        &format!("Hublet could not start its hub:\n\n{e}"),
                    );
                    return Err(e.into());
                }
            };
            let api = running.api_url.clone().unwrap_or_default();
            let init = format!(
                "window.__HUBLET__ = {};",
                serde_json::json!({ "api": api, "token": running.token })
            );
            let menu = menu::build(app.handle())?;
            let window =
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title(format!("Hublet — {}", running.hub.settings().hub_name))
                    .inner_size(1280.0, 820.0)
                    .min_inner_size(900.0, 600.0)
                    .initialization_script(&init)
                    .menu(menu)
                    .build()?;
            window.on_menu_event(|w, e| menu::handle(w, e.id().as_ref()));
            notify::watch(app.handle().clone(), running.hub.clone());
            eprintln!(
                "Hublet desktop: API {api}, MQTT {}, data {}",
                running.listeners.mqtt.as_deref().unwrap_or("off"),
                running.data_dir.display()
            );
            app.manage(HubHandle(Mutex::new(Some(running))));
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("cannot start the desktop app")?;

    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            let running = handle
                .try_state::<HubHandle>()
                .and_then(|h| h.0.lock().unwrap_or_else(|p| p.into_inner()).take());
            if let Some(r) = running
                && let Err(e) = tauri::async_runtime::block_on(r.shutdown())
            {
                eprintln!("error while stopping the hub: {e}");
            }
        }
    });
    Ok(())
}
