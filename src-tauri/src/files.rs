//! Native file dialogs for the UI: save an export, open a file to import.
//!
//! The UI fetches an export from the API and hands the text here; importing
//! reads a file the user picks. `HUBLET_E2E_DIR` replaces the dialogs with
//! that directory, so end-to-end tests (which cannot click native dialogs)
//! exercise the same path.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::DialogExt;

/// Largest file the UI may import (a trace of about a million events).
const MAX_IMPORT: u64 = 1 << 30;

fn test_dir() -> Option<PathBuf> {
    std::env::var_os("HUBLET_E2E_DIR").map(PathBuf::from)
}

/// Asks where to save `contents` (suggesting `name`) and writes it. Returns
/// the path, or `None` when the user cancelled.
#[tauri::command]
pub async fn save_file<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    contents: String,
) -> Result<Option<String>, String> {
    let path = match test_dir() {
        Some(dir) => Some(dir.join(sanitize(&name))),
        None => {
            let mut dialog = app.dialog().file().set_file_name(&name);
            // Exports start in the user's Downloads folder, not wherever the
            // app was started from (a source checkout, say).
            if let Ok(dir) = app.path().download_dir() {
                dialog = dialog.set_directory(dir);
            }
            tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
                .await
                .map_err(|e| e.to_string())?
                .and_then(|p| p.into_path().ok())
        }
    };
    let Some(path) = path else { return Ok(None) };
    tokio::fs::write(&path, contents)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(path.display().to_string()))
}

/// Asks for a trace file (`.jsonl`) and returns its name and text, or `None`
/// when the user cancelled.
#[tauri::command]
pub async fn open_file<R: Runtime>(app: AppHandle<R>) -> Result<Option<(String, String)>, String> {
    let path = match test_dir() {
        Some(dir) => Some(dir.join("import.jsonl")),
        None => {
            let dialog = app
                .dialog()
                .file()
                .add_filter("Hublet trace (JSON Lines)", &["jsonl", "json"]);
            tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_file())
                .await
                .map_err(|e| e.to_string())?
                .and_then(|p| p.into_path().ok())
        }
    };
    let Some(path) = path else { return Ok(None) };
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_IMPORT {
        return Err(format!("{} is larger than 1 GB", path.display()));
    }
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| format!("cannot read {} as text: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Some((name, text)))
}

/// A file name without directories.
fn sanitize(name: &str) -> String {
    let n: String = name
        .chars()
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .collect();
    if n.is_empty() || n == "." || n == ".." {
        "export".into()
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_suggested_name_cannot_leave_the_directory() {
        assert_eq!(super::sanitize("../etc/passwd"), ".._etc_passwd");
        assert_eq!(super::sanitize(".."), "export");
        assert_eq!(super::sanitize("trace.jsonl"), "trace.jsonl");
    }
}
