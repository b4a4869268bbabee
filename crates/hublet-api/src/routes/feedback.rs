//! `/api/feedback`: every feedback record as it is produced (the trace's
//! `feedback.produced` events), newest first; no batching, no locks.

use axum::Json;
use axum::extract::State;
use hublet_core::TraceQuery;
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::dto::FeedbackRecordDto;
use crate::error::ApiError;
use crate::extract::QueryParams;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FeedbackParams {
    device_id: Option<String>,
    message_id: Option<String>,
    after_id: Option<i64>,
    limit: Option<usize>,
}

pub async fn list(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<FeedbackParams>,
) -> Result<Json<Vec<FeedbackRecordDto>>, ApiError> {
    let q = TraceQuery {
        kinds: vec!["feedback.produced".into()],
        device_id: p.device_id,
        correlation: p.message_id,
        after_id: p.after_id,
        limit: p.limit,
        newest_first: p.after_id.is_none(),
        ..TraceQuery::default()
    };
    let events = s.hub.trace().query(q).await?;
    Ok(Json(
        events
            .iter()
            .filter_map(FeedbackRecordDto::from_event)
            .collect(),
    ))
}
