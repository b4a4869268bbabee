//! Native menus. Items navigate the UI or ask it to export / import a trace;
//! the UI does the work through the API, as it does from its own buttons.

use tauri::menu::{Menu, MenuBuilder, MenuItemBuilder, SubmenuBuilder};
use tauri::{AppHandle, Manager, Runtime};

/// Screens reachable from the View menu: (id, label, shortcut).
const SCREENS: [(&str, &str, &str); 7] = [
    ("devices", "Devices", "CmdOrCtrl+1"),
    ("trace", "Trace", "CmdOrCtrl+2"),
    ("feedback", "Feedback", "CmdOrCtrl+3"),
    ("simulator", "Simulator", "CmdOrCtrl+4"),
    ("serial", "Serial", "CmdOrCtrl+5"),
    ("scenarios", "Scenarios", "CmdOrCtrl+7"),
    ("settings", "Settings", "CmdOrCtrl+6"),
];

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let file = SubmenuBuilder::new(app, "File")
        .item(
            &MenuItemBuilder::with_id("export", "Export trace…")
                .accelerator("CmdOrCtrl+E")
                .build(app)?,
        )
        .item(
            &MenuItemBuilder::with_id("import", "Import trace…")
                .accelerator("CmdOrCtrl+O")
                .build(app)?,
        )
        .separator()
        // A plain item: GTK has no native Quit, so the predefined one is
        // greyed out on Linux.
        .item(
            &MenuItemBuilder::with_id("quit", "Quit")
                .accelerator("CmdOrCtrl+Q")
                .build(app)?,
        )
        .build()?;
    let mut view = SubmenuBuilder::new(app, "View");
    for (id, label, key) in SCREENS {
        view = view.item(
            &MenuItemBuilder::with_id(format!("go:{id}"), label)
                .accelerator(key)
                .build(app)?,
        );
    }
    let view = view
        .separator()
        .item(&MenuItemBuilder::with_id("theme", "Toggle dark theme").build(app)?)
        .item(
            &MenuItemBuilder::with_id("reload", "Reload")
                .accelerator("CmdOrCtrl+R")
                .build(app)?,
        )
        .build()?;
    let help = SubmenuBuilder::new(app, "Help")
        // The UI's own dialog: it knows the data directory and listeners.
        .item(&MenuItemBuilder::with_id("about", "About Hublet").build(app)?)
        .build()?;
    MenuBuilder::new(app).items(&[&file, &view, &help]).build()
}

/// Runs a menu item in the window.
pub fn handle<R: Runtime>(w: &tauri::Window<R>, id: &str) {
    if id == "quit" {
        w.app_handle().exit(0);
        return;
    }
    let Some(view) = w.get_webview_window("main") else {
        return;
    };
    let js = match id {
        "reload" => "location.reload()".to_string(),
        "theme" | "export" | "import" | "about" => {
            format!("window.dispatchEvent(new CustomEvent('hublet-menu', {{ detail: '{id}' }}))")
        }
        other => match other.strip_prefix("go:") {
            Some(screen) if SCREENS.iter().any(|(s, _, _)| *s == screen) => {
                format!("location.hash = '#/{screen}'")
            }
            _ => return,
        },
    };
    if let Err(e) = view.eval(&js) {
        tracing::warn!("menu {id}: {e}");
    }
}
