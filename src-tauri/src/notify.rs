//! OS notifications for what a developer wants to know while the window is
//! in the background: a board unplugged or back, a message dead-lettered, a
//! method call that timed out. Read from the hub's live trace.

use hublet_core::trace::detail::SerialPortChange;
use hublet_core::{EventKind, Hub, TraceDetail, TraceEvent, TraceQuery};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

/// Words for an event worth a notification.
fn words(e: &TraceEvent) -> Option<(String, String)> {
    let device = e.device_id.as_deref().unwrap_or("?");
    match &e.detail {
        TraceDetail::SerialPort(p) => match p.event {
            SerialPortChange::Disappeared => Some((
                format!("Board {device} unplugged"),
                p.path.clone().unwrap_or_default(),
            )),
            SerialPortChange::Reappeared => Some((
                format!("Board {device} is back"),
                p.path.clone().unwrap_or_default(),
            )),
            _ => None,
        },
        TraceDetail::C2dDeadLettered(d) => Some((
            format!("Message dead-lettered on {device}"),
            format!("{} ({})", e.message_id.as_deref().unwrap_or("?"), d.reason),
        )),
        TraceDetail::MethodTimedOut(m) => Some((
            format!("{device} did not answer {}", m.method_name),
            format!(
                "{}: no response within {} s",
                m.code, m.response_timeout_in_seconds
            ),
        )),
        _ => None,
    }
}

pub fn watch<R: Runtime>(app: AppHandle<R>, hub: Hub) {
    let mut sub = hub.trace().subscribe(TraceQuery {
        kinds: [
            EventKind::SerialPort,
            EventKind::C2dDeadLettered,
            EventKind::MethodTimedOut,
        ]
        .iter()
        .map(|k| k.as_str().to_string())
        .collect(),
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
