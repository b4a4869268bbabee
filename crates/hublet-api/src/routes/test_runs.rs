//! `/api/test-runs`: QA run records (one per case), written by whoever runs
//! scenarios (`hublet test`, the hub itself for the Scenarios screen) and
//! listed by every client.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::dto::{TestRunDto, TestRunWrite};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};

/// List filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListParams {
    batch: Option<String>,
    before_id: Option<i64>,
    limit: Option<usize>,
}

fn not_found(id: i64) -> ApiError {
    ApiError::http(
        StatusCode::NOT_FOUND,
        "TestRunNotFound",
        format!(
            "no test run {id} (old runs are deleted once {} are kept)",
            hublet_core::runs::KEEP
        ),
    )
}

/// `GET /api/test-runs`: newest first.
pub async fn list(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<ListParams>,
) -> Result<Json<Vec<TestRunDto>>, ApiError> {
    let runs = s
        .hub
        .test_runs()
        .list(
            p.batch.filter(|b| !b.is_empty()),
            p.before_id,
            p.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(runs.into_iter().map(Into::into).collect()))
}

/// `GET /api/test-runs/{id}`.
pub async fn get(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<TestRunDto>, ApiError> {
    match s.hub.test_runs().get(id).await? {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(id)),
    }
}

/// `POST /api/test-runs`: records a case; answers its id.
pub async fn create(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(w): JsonBody<TestRunWrite>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (Some(batch), Some(name)) = (w.batch, w.name) else {
        return Err(ApiError::invalid("a new test run needs batch and name"));
    };
    let id = s
        .hub
        .test_runs()
        .add(&batch, &name, &w.verdict, w.record)
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"id": id}))))
}

/// `PUT /api/test-runs/{id}`: replaces a case's verdict and record.
pub async fn replace(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<i64>,
    JsonBody(w): JsonBody<TestRunWrite>,
) -> Result<StatusCode, ApiError> {
    if s.hub.test_runs().update(id, &w.verdict, w.record).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}
