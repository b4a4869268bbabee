//! The Hublet desktop app: a thin Tauri shell.
//!
//! It starts the same hub as `hublet serve` (through `hublet-server`) on the
//! user's data directory, opens a window on the UI, and adds only what a
//! desktop gives: native menus, file dialogs for export and import, OS
//! notifications, a single instance, and a start-up screen when the hub
//! cannot start (see [`hub`]). The UI talks to the hub through its REST API
//! like any browser would; the shell hands it the address and token before
//! it loads. No hub logic lives here.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod files;
mod hub;
mod menu;
mod notify;
mod startup_env;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use clap::Parser;
use tauri::{Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

use crate::hub::{HubSlot, Launch};

/// Command-line options (the defaults suit a developer's machine). A
/// listener left out takes the address kept from the start-up screen, if
/// any, else the default shown.
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
    /// MQTT over plain TCP (`off` to disable) [default: 0.0.0.0:1883].
    #[arg(long, value_name = "ADDR|off")]
    mqtt: Option<String>,
    /// MQTT over TLS (`off` to disable) [default: 0.0.0.0:8883].
    #[arg(long, value_name = "ADDR|off")]
    mqtts: Option<String>,
    /// The REST API the UI uses (a free port is taken if this one is busy)
    /// [default: 127.0.0.1:8480].
    #[arg(long, value_name = "ADDR")]
    api: Option<String>,
    /// The REST API over HTTPS (`off` to disable), on IoT Hub's port 443 so that
    /// connection strings name no port; AMQP is served there too [default: 127.0.0.1:443].
    #[arg(long, value_name = "ADDR|off")]
    https: Option<String>,
    /// Where HTTPS listens when this user may not bind --https's privileged port
    /// [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR|off")]
    https_fallback: Option<String>,
    /// IoT Hub's AMQP service endpoint over TLS (`off` to disable) [default: 127.0.0.1:5671].
    #[arg(long, value_name = "ADDR|off")]
    amqps: Option<String>,
}

impl Args {
    fn launch(self) -> Launch {
        let given = [
            ("mqtt", self.mqtt),
            ("mqtts", self.mqtts),
            ("api", self.api),
            ("https", self.https),
            ("https-fallback", self.https_fallback),
            ("amqps", self.amqps),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        Launch {
            data_dir: self.data_dir.unwrap_or_else(hublet_core::default_data_dir),
            demo: self.demo,
            given,
        }
    }
}

fn main() -> anyhow::Result<()> {
    hublet_server::malloc::limit_malloc_arenas();
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
    let slot = HubSlot {
        launch: Args::parse().launch(),
        running: Mutex::new(None),
    };

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            files::save_file,
            files::open_file,
            hub::retry_hub,
            hub::open_data_dir,
            hub::quit,
        ])
        .setup(move |app| {
            // A failed start opens the window on the start-up screen, which
            // names the cause and offers the fixes; it never ends the app.
            let started = tauri::async_runtime::block_on(slot.start(&BTreeMap::new(), false));
            let (injected, info) = match started {
                Ok((access, info)) => (serde_json::json!(access), Some(info)),
                Err(problem) => {
                    eprintln!("Hublet could not start its hub: {}", problem.message);
                    (serde_json::json!({ "startupError": problem }), None)
                }
            };
            // After a retry from the start-up screen, the UI keeps the new
            // access in sessionStorage so that a reload finds the running hub.
            let init = format!(
                "window.__HUBLET__ = JSON.parse(sessionStorage.getItem('hublet.shell') || 'null') || {injected};"
            );
            app.manage(slot);
            let menu = menu::build(app.handle())?;
            let window =
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title("Hublet")
                    .inner_size(1280.0, 820.0)
                    .min_inner_size(1024.0, 700.0)
                    .initialization_script(&init)
                    .menu(menu)
                    .build()?;
            window.on_menu_event(|w, e| menu::handle(w, e.id().as_ref()));
            if let Some(info) = info {
                hub::on_started(app.handle(), info);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("cannot start the desktop app")?;

    app.run(|handle, event| {
        if let RunEvent::Exit = event
            && let Some(slot) = handle.try_state::<HubSlot>()
        {
            tauri::async_runtime::block_on(slot.stop());
        }
    });
    Ok(())
}
