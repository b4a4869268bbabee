//! `/api/commands`: the command library (saved method calls and C2D
//! messages) in the data directory's `commands.toml`, shared by the app,
//! `hublet run` and scenario steps.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use hublet_scenario::library::{Command, Library};
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};

/// One writer at a time: each change reads, changes and rewrites the file.
static WRITING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn dir(s: &AppState) -> std::path::PathBuf {
    s.hub
        .db_path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn bad(e: hublet_scenario::library::LibraryError) -> ApiError {
    ApiError::invalid(e.0)
}

fn load(s: &AppState) -> Result<Library, ApiError> {
    Library::load(&dir(s)).map_err(|e| {
        ApiError::http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CommandLibraryUnreadable",
            e.0,
        )
    })
}

fn save(s: &AppState, lib: &Library) -> Result<(), ApiError> {
    lib.save(&dir(s)).map_err(|e| {
        ApiError::http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CommandLibraryUnwritable",
            e.0,
        )
    })
}

/// `GET /api/commands`: every command, by name.
pub async fn list(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<Json<Vec<Command>>, ApiError> {
    Ok(Json(load(&s)?.commands))
}

/// `PUT /api/commands/{name}`: saves (or replaces) one command.
pub async fn put(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
    JsonBody(c): JsonBody<Command>,
) -> Result<Json<Command>, ApiError> {
    if c.name != name {
        return Err(ApiError::invalid(format!(
            "the command is named '{}', not '{name}' as in the path",
            c.name
        )));
    }
    let _w = WRITING.lock().await;
    let mut lib = load(&s)?;
    lib.put(c.clone()).map_err(bad)?;
    save(&s, &lib)?;
    Ok(Json(c))
}

/// `DELETE /api/commands/{name}`.
pub async fn delete(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _w = WRITING.lock().await;
    let mut lib = load(&s)?;
    if !lib.remove(&name) {
        return Err(ApiError::http(
            StatusCode::NOT_FOUND,
            "CommandNotFound",
            format!("no command '{name}' in the library"),
        ));
    }
    save(&s, &lib)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/commands/export`: the library as its TOML file.
pub async fn export(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<impl IntoResponse, ApiError> {
    let lib = load(&s)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"hublet-commands.toml\"",
            ),
        ],
        lib.to_toml().map_err(|e| {
            ApiError::http(
                StatusCode::INTERNAL_SERVER_ERROR,
                "CommandLibraryUnwritable",
                e.0,
            )
        })?,
    ))
}

/// `?replace=true`: the import replaces the whole library.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportParams {
    replace: bool,
}

/// `POST /api/commands/import`: a library's TOML (an export, a colleague's
/// file), merged by name into this one (or replacing it); answers the result.
pub async fn import(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<ImportParams>,
    body: Bytes,
) -> Result<Json<Vec<Command>>, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the library is not UTF-8 text"))?;
    let incoming = Library::from_toml(text).map_err(bad)?;
    let _w = WRITING.lock().await;
    let mut lib = if p.replace {
        Library::default()
    } else {
        load(&s)?
    };
    for c in incoming.commands {
        lib.put(c).map_err(bad)?;
    }
    save(&s, &lib)?;
    Ok(Json(lib.commands))
}

/// What to render a command for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RenderRequest {
    device: String,
    vars: std::collections::BTreeMap<String, serde_json::Value>,
}

/// `POST /api/commands/{name}/render`: the command on a device with its
/// variables filled in (given, else its defaults): what the app loads into
/// its forms and sends.
pub async fn render(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
    JsonBody(r): JsonBody<RenderRequest>,
) -> Result<Json<Command>, ApiError> {
    let lib = load(&s)?;
    let c = lib.get(&name).ok_or_else(|| {
        ApiError::http(
            StatusCode::NOT_FOUND,
            "CommandNotFound",
            format!("no command '{name}' in the library"),
        )
    })?;
    Ok(Json(c.render(&r.device, &r.vars).map_err(bad)?))
}
