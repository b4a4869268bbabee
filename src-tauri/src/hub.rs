//! The embedded hub's life in the app: the first start, and when it fails,
//! the start-up screen's fixes (other addresses, free ports, retry).
//!
//! A failed start never ends the app: the window opens on the UI's start-up
//! screen with a [`StartupProblem`] (what failed, on which address, who
//! holds it), and the screen calls [`retry_hub`] with the user's choice.
//! Addresses the user keeps "from now on" are saved in the data
//! directory's `desktop-listeners.json` and used by later starts; flags
//! given on the command line still win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hublet_core::HubError;
use hublet_server::{RunningHub, ServeConfig, ServerError, hubfile, listen_addr};
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime, State};

/// The listeners a user may move, with the app's defaults: (flag, default).
pub const LISTENERS: [(&str, &str); 6] = [
    ("mqtt", "0.0.0.0:1883"),
    ("mqtts", "0.0.0.0:8883"),
    ("api", "127.0.0.1:8480"),
    ("https", "127.0.0.1:443"),
    ("https-fallback", "127.0.0.1:8443"),
    ("amqps", "127.0.0.1:5671"),
];

/// The file in the data directory with the addresses kept from the
/// start-up screen.
const SAVED: &str = "desktop-listeners.json";

/// How the app was asked to run: the data directory, the demo, and each
/// listener's address as given on the command line (absent: saved or default).
#[derive(Debug, Clone)]
pub struct Launch {
    pub data_dir: PathBuf,
    pub demo: bool,
    pub given: BTreeMap<&'static str, String>,
}

impl Launch {
    /// The addresses for a start: the command line's, else the saved ones,
    /// else the defaults; then `overrides` for this run.
    fn addresses(&self, overrides: &BTreeMap<String, String>) -> BTreeMap<&'static str, String> {
        let saved = load_saved(&self.data_dir);
        LISTENERS
            .iter()
            .map(|(flag, default)| {
                let v = overrides
                    .get(*flag)
                    .or_else(|| self.given.get(flag))
                    .or_else(|| saved.get(*flag))
                    .cloned()
                    .unwrap_or_else(|| (*default).to_string());
                (*flag, v)
            })
            .collect()
    }

    /// The hub's configuration for one start.
    pub fn config(
        &self,
        overrides: &BTreeMap<String, String>,
        free_ports: bool,
    ) -> Result<ServeConfig, ServerError> {
        let mut a = self.addresses(overrides);
        if free_ports {
            // The same interfaces, on ports the system picks.
            for v in a.values_mut() {
                if let Ok(Some(mut addr)) = listen_addr("free", v) {
                    addr.set_port(0);
                    *v = addr.to_string();
                }
            }
        }
        let get = |flag: &'static str| listen_addr(flag, &a[flag]);
        let mut cfg = ServeConfig {
            mqtt: get("mqtt")?,
            mqtts: get("mqtts")?,
            api: get("api")?,
            https: get("https")?,
            https_fallback: get("https-fallback")?,
            amqps: get("amqps")?,
            api_port_fallback: true,
            demo: self.demo,
            ..ServeConfig::new(self.data_dir.clone())
        };
        if cfg.api.is_none() {
            return Err(ServerError::Config(
                "the desktop app needs its REST API: give --api an address".into(),
            ));
        }
        if tauri::is_dev() {
            // `tauri dev` loads the UI from Vite's dev server.
            cfg.allow_origins.push("http://localhost:5173".into());
        }
        Ok(cfg)
    }
}

fn load_saved(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read(dir.join(SAVED))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Keeps `overrides` for later starts (merged with what was kept before).
fn save(dir: &Path, overrides: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut saved = load_saved(dir);
    saved.extend(
        overrides
            .iter()
            .filter(|(k, _)| LISTENERS.iter().any(|(f, _)| f == k))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let text = serde_json::to_vec_pretty(&saved).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(SAVED), text)
}

/// Why the hub did not start, for the start-up screen.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupProblem {
    /// `address-in-use`, `permission`, `no-such-address`, `already-running`,
    /// `data-dir` or `other`: which fixes the screen offers.
    pub kind: &'static str,
    /// The whole error, as `hublet serve` would print it.
    pub message: String,
    /// The listener's option (`mqtt`, `api`, ...), for a listener's failure.
    pub flag: Option<String>,
    /// Its address.
    pub addr: Option<String>,
    /// Who holds the address (`mosquitto (pid 812)`), if the system says.
    pub holder: Option<String>,
    /// The data directory.
    pub data_dir: String,
    /// For `already-running`: the other hub's process, from its `hub.json`.
    pub running_pid: Option<u32>,
    /// The addresses this start used, by option: the screen's form starts from them.
    pub addresses: BTreeMap<String, String>,
}

impl StartupProblem {
    fn new(e: &ServerError, launch: &Launch, addresses: BTreeMap<String, String>) -> Self {
        let mut p = StartupProblem {
            kind: "other",
            message: e.to_string(),
            flag: None,
            addr: None,
            holder: None,
            data_dir: launch.data_dir.display().to_string(),
            running_pid: None,
            addresses,
        };
        match e {
            ServerError::Listen {
                flag,
                addr,
                kind,
                holder,
                ..
            } => {
                p.kind = match kind {
                    std::io::ErrorKind::AddrInUse => "address-in-use",
                    std::io::ErrorKind::PermissionDenied => "permission",
                    std::io::ErrorKind::AddrNotAvailable => "no-such-address",
                    _ => "other",
                };
                p.flag = Some((*flag).to_string());
                p.addr = Some(addr.to_string());
                p.holder.clone_from(holder);
            }
            ServerError::Hub(HubError::Locked(_)) => {
                p.kind = "already-running";
                p.running_pid = hubfile::read(&launch.data_dir).map(|f| f.pid);
            }
            ServerError::Hub(HubError::Internal(_) | HubError::BadDatabase(_))
            | ServerError::Io { .. } => {
                p.kind = "data-dir";
            }
            _ => {}
        }
        p
    }
}

/// What the UI needs to reach a running hub.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub api: String,
    pub token: String,
}

impl Access {
    fn of(r: &RunningHub) -> Self {
        Access {
            api: r.api_url.clone().unwrap_or_default(),
            token: r.token.clone(),
        }
    }
}

/// The app's hub: how it was launched, and the hub once it runs.
pub struct HubSlot {
    pub launch: Launch,
    pub running: Mutex<Option<RunningHub>>,
}

impl HubSlot {
    /// Starts the hub; on success it is kept here and its access returned.
    pub async fn start(
        &self,
        overrides: &BTreeMap<String, String>,
        free_ports: bool,
    ) -> Result<(Access, RunningHubInfo), StartupProblem> {
        let addresses: BTreeMap<String, String> = self
            .launch
            .addresses(overrides)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let fail = |e: ServerError| StartupProblem::new(&e, &self.launch, addresses.clone());
        let cfg = self.launch.config(overrides, free_ports).map_err(fail)?;
        let running = hublet_server::start(cfg).await.map_err(fail)?;
        let access = Access::of(&running);
        let info = RunningHubInfo::of(&running);
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(running);
        Ok((access, info))
    }

    /// Stops the hub, if it runs (the app is exiting).
    pub async fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = running
            && let Err(e) = r.shutdown().await
        {
            eprintln!("error while stopping the hub: {e}");
        }
    }
}

/// What the shell itself uses of a running hub (title, notifications).
pub struct RunningHubInfo {
    pub hub: hublet_core::Hub,
    pub name: String,
    pub summary: String,
}

impl RunningHubInfo {
    fn of(r: &RunningHub) -> Self {
        RunningHubInfo {
            hub: r.hub.clone(),
            name: r.hub.settings().hub_name.clone(),
            summary: format!(
                "Hublet desktop: API {}, MQTT {}, data {}",
                r.api_url.as_deref().unwrap_or("off"),
                r.listeners.mqtt.as_deref().unwrap_or("off"),
                r.data_dir.display()
            ),
        }
    }
}

/// The shell's part once a hub runs: the window title, notifications, the
/// terminal line.
pub fn on_started<R: Runtime>(app: &AppHandle<R>, info: RunningHubInfo) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.set_title(&format!("Hublet — {}", info.name));
    }
    crate::notify::watch(app.clone(), info.hub);
    eprintln!("{}", info.summary);
}

/// The start-up screen's retry: `overrides` (option → address or `off`)
/// for this run, all ports picked by the system with `free_ports`, and
/// the overrides kept for later starts with `remember`.
#[tauri::command]
pub async fn retry_hub<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    overrides: BTreeMap<String, String>,
    free_ports: bool,
    remember: bool,
) -> Result<Access, StartupProblem> {
    // A start that already succeeded (a reload lost its answer, or the page
    // could not connect): hand out the running hub again.
    if let Some(r) = slot
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        return Ok(Access::of(r));
    }
    let (access, info) = slot.start(&overrides, free_ports).await?;
    if remember && let Err(e) = save(&slot.launch.data_dir, &overrides) {
        tracing::warn!("cannot keep the addresses in {SAVED}: {e}");
    }
    on_started(&app, info);
    Ok(access)
}

/// Opens the data directory in the desktop's file manager.
#[tauri::command]
pub fn open_data_dir(slot: State<'_, HubSlot>) -> Result<(), String> {
    let dir = &slot.launch.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // xdg-open is how a Linux desktop opens a folder with the user's own
    // file manager (Debian's xdg-utils, a dependency of the package).
    std::process::Command::new("xdg-open")
        .arg(dir)
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("cannot open {} (xdg-open: {e})", dir.display()))
}

/// Ends the app (File → Quit, Ctrl+Q, the start-up screen's Quit).
#[tauri::command]
pub fn quit<R: Runtime>(app: AppHandle<R>) {
    app.exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(dir: &Path) -> Launch {
        Launch {
            data_dir: dir.to_path_buf(),
            demo: false,
            given: BTreeMap::new(),
        }
    }

    #[test]
    fn command_line_beats_saved_which_beats_default_and_overrides_beat_all() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut l = launch(dir.path());
        assert_eq!(l.addresses(&BTreeMap::new())["mqtt"], "0.0.0.0:1883");
        let keep = BTreeMap::from([
            ("mqtt".to_string(), "127.0.0.1:1884".to_string()),
            ("nonsense".to_string(), "x".to_string()),
        ]);
        save(dir.path(), &keep).expect("saved");
        assert_eq!(l.addresses(&BTreeMap::new())["mqtt"], "127.0.0.1:1884");
        assert!(!load_saved(dir.path()).contains_key("nonsense"));
        l.given.insert("mqtt", "127.0.0.1:1999".into());
        assert_eq!(l.addresses(&BTreeMap::new())["mqtt"], "127.0.0.1:1999");
        let once = BTreeMap::from([("mqtt".to_string(), "off".to_string())]);
        assert_eq!(l.addresses(&once)["mqtt"], "off");
    }

    #[test]
    fn free_ports_keep_the_interface_and_off_stays_off() {
        let dir = tempfile::tempdir().expect("temp dir");
        let l = launch(dir.path());
        let once = BTreeMap::from([("amqps".to_string(), "off".to_string())]);
        let cfg = l.config(&once, true).expect("config");
        assert_eq!(cfg.mqtt.map(|a| a.to_string()), Some("0.0.0.0:0".into()));
        assert_eq!(cfg.api.map(|a| a.to_string()), Some("127.0.0.1:0".into()));
        assert!(cfg.amqps.is_none());
    }

    #[test]
    fn a_taken_port_is_explained_with_its_listener() {
        let dir = tempfile::tempdir().expect("temp dir");
        let e = ServerError::Listen {
            flag: "mqtt",
            addr: "0.0.0.0:1883".parse().expect("addr"),
            reason: "in use".into(),
            kind: std::io::ErrorKind::AddrInUse,
            holder: Some("mosquitto (pid 812)".into()),
        };
        let p = StartupProblem::new(&e, &launch(dir.path()), BTreeMap::new());
        assert_eq!(p.kind, "address-in-use");
        assert_eq!(p.flag.as_deref(), Some("mqtt"));
        assert_eq!(p.holder.as_deref(), Some("mosquitto (pid 812)"));
        let locked = ServerError::Hub(HubError::Locked("another hub".into()));
        let p = StartupProblem::new(&locked, &launch(dir.path()), BTreeMap::new());
        assert_eq!(p.kind, "already-running");
    }
}
