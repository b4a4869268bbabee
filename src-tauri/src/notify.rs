//! OS notifications for what a developer wants to know while the window is
//! in the background: a board unplugged or back, a message dead-lettered, a
//! method call that timed out. Read from the hub's live trace.

use hublet_core::{Hub, TraceEvent, TraceQuery};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

/// Words for an event worth a notification.
fn words(e: &TraceEvent) -> Option<(String, String)> {
    let device = e.device_id.as_deref().unwrap_or("?");
    let d = &e.detail;
    match e.kind.as_str() {
        "serial.port" => match d["event"].as_str() {
            Some("disappeared") => Some((
                format!("Board {device} unplugged"),
                d["path"].as_str().unwrap_or("").into(),
            )),
            Some("reappeared") => Some((
                format!("Board {device} is back"),
                d["path"].as_str().unwrap_or("").into(),
            )),
            _ => None,
        },
        "c2d.dead_lettered" => Some((
            format!("Message dead-lettered on {device}"),
            format!(
                "{} ({})",
                e.message_id.as_deref().unwrap_or("?"),
                d["reason"].as_str().unwrap_or("")
            ),
        )),
        "method.timed_out" => Some((
            format!(
                "{device} did not answer {}",
                d["methodName"].as_str().unwrap_or("a method")
            ),
            "504101: no response within the response timeout".into(),
        )),
        _ => None,
    }
}

pub fn watch<R: Runtime>(app: AppHandle<R>, hub: Hub) {
    let mut sub = hub.trace().subscribe(TraceQuery {
        kinds: vec![
            "serial.port".into(),
            "c2d.dead_lettered".into(),
            "method.timed_out".into(),
        ],
        ..TraceQuery::default()
    });
    tauri::async_runtime::spawn(async move {
        loop {
            let e = match sub.recv().await {
                Ok(e) => e,
                Err(hublet_core::trace::LiveError::Lagged(_)) => continue,
                Err(hublet_core::trace::LiveError::Closed) => return,
            };
            let focused = app
                .get_webview_window("main")
                .and_then(|w| w.is_focused().ok())
                .unwrap_or(false);
            if focused {
                continue;
            }
            if let Some((title, body)) = words(&e)
                && let Err(err) = app.notification().builder().title(title).body(body).show()
            {
                tracing::debug!("notification: {err}");
            }
        }
    });
}
