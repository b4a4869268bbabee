//! `/api/events…`: the Event Hub-compatible event log for the app and
//! `hublet monitor`: partitions, a page of one partition, consumer groups,
//! and a live stream (Server-Sent Events) from a position on.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use hublet_core::events::Position;
use serde::Deserialize;

use super::ApiCaller;
use super::trace::async_stream;
use crate::AppState;
use crate::dto::{EventDto, EventHubDto, PartitionDto};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams, Shutdown};

/// `GET /api/events`: the endpoint's name, partitions and consumer groups.
pub async fn hub(State(s): State<AppState>, _c: ApiCaller) -> Result<Json<EventHubDto>, ApiError> {
    let ev = s.hub.events();
    let mut partitions = Vec::new();
    for p in 0..ev.partition_count() {
        let i = ev.partition(p).await?;
        partitions.push(PartitionDto {
            partition_id: p.to_string(),
            begin_sequence_number: i.begin_sequence_number,
            last_sequence_number: i.last_sequence_number,
            last_offset: i.last_offset.to_string(),
            last_enqueued_time: i.last_enqueued_time.map(|t| t.to_rfc3339()),
            is_empty: i.is_empty,
        });
    }
    Ok(Json(EventHubDto {
        name: ev.name(),
        partitions,
        consumer_groups: ev
            .consumer_groups()
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect(),
    }))
}

/// Where to start and what to keep.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReadParams {
    /// `earliest` (default for a page), `latest` (default for the stream),
    /// a sequence number, or an RFC 3339 enqueued time.
    from: Option<String>,
    /// Comma-separated device ids (all when absent).
    devices: Option<String>,
    /// At most this many (a page; default 100, at most 1000).
    max: Option<usize>,
    #[allow(dead_code)]
    access_token: Option<String>,
}

impl ReadParams {
    fn position(&self, default: Position) -> Result<Position, ApiError> {
        match self
            .from
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            None => Ok(default),
            Some("earliest") => Ok(Position::Earliest),
            Some("latest") => Ok(Position::Latest),
            Some(f) => {
                if let Ok(n) = f.parse::<i64>() {
                    return Ok(Position::Sequence {
                        sequence_number: n,
                        inclusive: true,
                    });
                }
                hublet_core::Timestamp::parse_rfc3339(f)
                    .map(|time| Position::Enqueued {
                        time,
                        inclusive: true,
                    })
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "from '{f}' is not earliest, latest, a sequence number or an RFC 3339 time"
                        ))
                    })
            }
        }
    }

    fn devices(&self) -> BTreeSet<String> {
        self.devices
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// `GET /api/events/partitions/{p}?from=…&max=…`: a page of one partition.
pub async fn page(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(p): Path<String>,
    QueryParams(q): QueryParams<ReadParams>,
) -> Result<Json<Vec<EventDto>>, ApiError> {
    let ev = s.hub.events();
    let p = ev.partition_id(&p)?;
    let from = ev.resolve(p, q.position(Position::Earliest)?).await?;
    let max = q.max.unwrap_or(100).clamp(1, 1000);
    let devices = q.devices();
    Ok(Json(
        ev.read(p, from, max)
            .await?
            .into_iter()
            .filter(|e| devices.is_empty() || devices.contains(&e.device_id))
            .map(EventDto::from)
            .collect(),
    ))
}

/// `GET /api/events/stream?from=…&devices=…`: every partition's events
/// from the position on (default: new ones), live, as `event: event`,
/// until the hub stops.
pub async fn stream(
    State(s): State<AppState>,
    _c: ApiCaller,
    shutdown: Shutdown,
    QueryParams(q): QueryParams<ReadParams>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let from = q.position(Position::Latest)?;
    let mut reader = s.hub.events().reader(&[], from, q.devices()).await?;
    let stream = async_stream(shutdown, move |tx| async move {
        loop {
            let batch = match reader.next_batch(256).await {
                Ok(Some(b)) => b,
                Ok(None) => return,
                Err(e) => {
                    let _ = tx
                        .send(Event::default().event("error").data(e.to_string()))
                        .await;
                    return;
                }
            };
            for e in batch {
                let data = serde_json::to_string(&EventDto::from(e)).unwrap_or_default();
                if tx
                    .send(Event::default().event("event").data(data))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A consumer group to create.
#[derive(Debug, Deserialize)]
pub struct NewConsumerGroup {
    name: String,
}

/// `POST /api/events/consumer-groups` `{"name": …}`.
pub async fn add_group(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(g): JsonBody<NewConsumerGroup>,
) -> Result<StatusCode, ApiError> {
    s.hub.events().create_consumer_group(&g.name).await?;
    Ok(StatusCode::CREATED)
}

/// `DELETE /api/events/consumer-groups/{name}`.
pub async fn delete_group(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hub.events().delete_consumer_group(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
