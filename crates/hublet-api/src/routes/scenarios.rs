//! `/api/scenarios`: the scenario files of a folder, and runs started from
//! the app. A run is carried out by the same runner as `hublet test`,
//! inside the hub, talking to this very API over loopback (so it behaves
//! exactly as the CLI does), and recorded as test runs of its batch, step
//! by step, for the Scenarios screen to follow.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::dto::{ScenarioFileDto, ScenarioFolderDto, ScenarioRunRequest, ScenarioRunStartedDto};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};

/// The folder scenarios are looked for in by default.
pub fn default_dir(s: &AppState) -> PathBuf {
    s.hub
        .db_path()
        .parent()
        .map(|d| d.join("scenarios"))
        .unwrap_or_else(|| PathBuf::from("scenarios"))
}

fn folder(s: &AppState, dir: Option<String>) -> PathBuf {
    match dir.filter(|d| !d.trim().is_empty()) {
        Some(d) => PathBuf::from(d.trim()),
        None => default_dir(s),
    }
}

/// `?dir=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DirParams {
    dir: Option<String>,
}

fn describe(path: &FsPath) -> ScenarioFileDto {
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut dto = ScenarioFileDto {
        path: path.display().to_string(),
        file_name,
        name: None,
        description: None,
        cases: Vec::new(),
        error: None,
    };
    match hublet_scenario::load(path) {
        Ok(sc) => {
            dto.name = Some(sc.spec.name.clone());
            dto.description = sc.spec.description.clone();
            dto.cases = hublet_scenario::cases(&[Arc::new(sc)], None)
                .into_iter()
                .map(|c| c.name)
                .collect();
        }
        Err(e) => dto.error = Some(e.to_string()),
    }
    dto
}

/// `GET /api/scenarios?dir=`: every `.toml` file of the folder (default:
/// the data directory's `scenarios`), each read and checked.
pub async fn list(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<DirParams>,
) -> Result<Json<ScenarioFolderDto>, ApiError> {
    let dir = folder(&s, p.dir);
    let listing = tokio::task::spawn_blocking(move || {
        let exists = dir.is_dir();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        ScenarioFolderDto {
            dir: dir.display().to_string(),
            exists,
            files: paths.iter().map(|p| describe(p)).collect(),
        }
    })
    .await
    .map_err(|e| ApiError::from(hublet_core::HubError::Internal(e.to_string())))?;
    Ok(Json(listing))
}

/// `POST /api/scenarios/runs`: checks every file, then runs their cases in
/// the background; answers the batch to follow.
pub async fn run(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(r): JsonBody<ScenarioRunRequest>,
) -> Result<(StatusCode, Json<ScenarioRunStartedDto>), ApiError> {
    if r.files.is_empty() {
        return Err(ApiError::invalid("no scenario files to run"));
    }
    let dir = folder(&s, r.dir);
    let files = r.files.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        files
            .iter()
            .map(|f| hublet_scenario::load(&dir.join(f)).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ApiError::from(hublet_core::HubError::Internal(e.to_string())))?;
    let scenarios = loaded.map_err(|e| ApiError::invalid(e.to_string()))?;
    let cases = hublet_scenario::cases(&scenarios, r.filter.as_deref());
    if cases.is_empty() {
        return Err(ApiError::invalid("no case matches the filter"));
    }
    let api = s
        .info
        .read()
        .map(|i| i.listeners.api.clone())
        .ok()
        .flatten()
        .ok_or_else(|| {
            ApiError::http(
                StatusCode::SERVICE_UNAVAILABLE,
                "ApiListenerOff",
                "the hub runs scenarios through its HTTP API listener, which is off",
            )
        })?;
    // 53 bits: a seed shown in the app (a JavaScript number) must be exact.
    let seed = r.seed.unwrap_or_else(|| rand::random::<u64>() >> 11);
    let batch = format!("app-{}-{:08x}", s.hub.now().0, rand::random::<u32>());
    // The runner talks to this hub over loopback, also when the API listens
    // on every interface (0.0.0.0 / [::] are not addresses to connect to).
    let api = match api.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => {
            let ip = if a.is_ipv4() { "127.0.0.1" } else { "[::1]" };
            format!("{ip}:{}", a.port())
        }
        _ => api,
    };
    let client = hublet_scenario::HubApi::plain(format!("http://{api}"), s.token.as_str());
    let runner = hublet_scenario::Runner::new(client, seed).record_in(batch.clone());
    let names = cases.iter().map(|c| c.name.clone()).collect();
    tokio::spawn(async move {
        runner.run(cases, 1).await;
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(ScenarioRunStartedDto {
            batch,
            cases: names,
            seed,
        }),
    ))
}
