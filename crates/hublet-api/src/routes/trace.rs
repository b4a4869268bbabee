//! `/api/trace…`: query, a message's or call's story, the live stream
//! (Server-Sent Events) and export (JSON Lines or CSV, streamed).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use hublet_core::trace::{ExportFormat, ExportWriter, LiveError};
use hublet_core::{Timestamp, TraceQuery};
use serde::Deserialize;

use super::ApiCaller;
use crate::AppState;
use crate::dto::TraceEventDto;
use crate::error::ApiError;
use crate::extract::{QueryParams, Shutdown};

/// How often a quiet live trace sends `event: ping`. The UI counts the hub
/// as gone when it hears nothing for a few beats, so a hub that stopped
/// without closing the connection (suspended, frozen, its machine asleep)
/// shows within a second; on loopback the beats cost nothing.
pub const HEARTBEAT: Duration = Duration::from_millis(150);

/// Query-string filters (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceParams {
    device_id: Option<String>,
    /// Comma-separated kinds or families: `c2d,method.timed_out`.
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    correlation: Option<String>,
    lock_token: Option<String>,
    text: Option<String>,
    after_id: Option<i64>,
    before_id: Option<i64>,
    limit: Option<usize>,
    newest_first: Option<bool>,
    /// Export format (`jsonl` or `csv`), for `/api/trace/export`.
    format: Option<String>,
    #[allow(dead_code)]
    access_token: Option<String>,
}

fn time(name: &str, v: Option<String>) -> Result<Option<Timestamp>, ApiError> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(&s)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{name} '{s}' is not an RFC 3339 date-time"))),
    }
}

impl TraceParams {
    fn query(self) -> Result<(TraceQuery, Option<String>), ApiError> {
        let q = TraceQuery {
            device_id: self.device_id.filter(|s| !s.is_empty()),
            kinds: self
                .kind
                .map(|k| {
                    k.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            correlation: self.correlation.filter(|s| !s.is_empty()),
            lock_token: self.lock_token.filter(|s| !s.is_empty()),
            text: self.text.filter(|s| !s.is_empty()),
            after_id: self.after_id,
            before_id: self.before_id,
            limit: self.limit,
            newest_first: self.newest_first.unwrap_or(false),
        };
        Ok((q, self.format))
    }
}

pub async fn query(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<TraceParams>,
) -> Result<Json<Vec<TraceEventDto>>, ApiError> {
    let (q, _) = p.query()?;
    Ok(Json(s.hub.trace().query(q).await?))
}

pub async fn story(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(key): Path<String>,
) -> Result<Json<Vec<TraceEventDto>>, ApiError> {
    Ok(Json(s.hub.trace().story(&key).await?))
}

/// Live events as Server-Sent Events (`event: trace`, `id: <event id>`).
/// With `afterId`, stored events after it are sent first, so a client that
/// reconnects (or starts from a query) misses nothing. A client that falls
/// behind gets `event: lagged` with how many events it missed. Storage
/// problems (a full disk) arrive as `event: storage`, at the start if one
/// is current and whenever it changes. While nothing else is sent,
/// `event: ping` (data `{}`) comes every [`HEARTBEAT`]. The stream ends when
/// the hub stops.
pub async fn stream(
    State(s): State<AppState>,
    _c: ApiCaller,
    shutdown: Shutdown,
    QueryParams(p): QueryParams<TraceParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (mut q, _) = p.query()?;
    let replay_from = q.after_id.take();
    let mut live = s.hub.trace().subscribe(q.clone());
    let backlog = match replay_from {
        Some(after) => {
            let mut bq = q.clone();
            bq.after_id = Some(after);
            bq.limit = Some(hublet_core::trace::MAX_LIMIT);
            s.hub.trace().query(bq).await?
        }
        None => Vec::new(),
    };
    let mut last = backlog.last().map(|e| e.id).or(replay_from).unwrap_or(0);
    let hub = s.hub.clone();
    let stream = async_stream(shutdown, move |tx| async move {
        for e in &backlog {
            if tx.send(trace_event(e)).await.is_err() {
                return;
            }
        }
        let mut storage = hub.watch_storage();
        let now = storage.borrow_and_update().clone();
        if now.is_some() && tx.send(storage_event(&now)).await.is_err() {
            return;
        }
        loop {
            let received = tokio::select! {
                r = live.recv() => r,
                changed = storage.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = storage.borrow_and_update().clone();
                    if tx.send(storage_event(&now)).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let item = match received {
                Ok(e) if e.id <= last => continue,
                Ok(e) => {
                    last = e.id;
                    trace_event(e.as_ref())
                }
                Err(LiveError::Lagged(n)) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{n},\"lastId\":{last}}}")),
                Err(LiveError::Closed) => return,
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    // With data: a browser drops an event whose data is empty.
    let ping = Event::default().event("ping").data("{}");
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).event(ping)))
}

/// `event: storage`: the storage problem now (a `StorageProblem`), or
/// `null` once it is over.
fn storage_event(p: &Option<hublet_core::StorageProblem>) -> Event {
    Event::default()
        .event("storage")
        .data(serde_json::to_string(p).unwrap_or_else(|_| "null".into()))
}

fn trace_event(e: &TraceEventDto) -> Event {
    Event::default()
        .event("trace")
        .id(e.id.to_string())
        .data(serde_json::to_string(e).unwrap_or_default())
}

/// Runs `f` with a sender and turns what it sends into a stream, which ends
/// when `f` returns or the server shuts down.
pub(crate) fn async_stream<F, Fut>(
    shutdown: Shutdown,
    f: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let run = f(tx);
    tokio::spawn(async move {
        tokio::select! {
            () = run => {}
            () = shutdown.0.cancelled() => {}
        }
    });
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}

/// Every matching event, streamed page by page as JSON Lines or CSV.
pub async fn export(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<TraceParams>,
) -> Result<Response, ApiError> {
    let (mut q, format) = p.query()?;
    let format: ExportFormat = format.as_deref().unwrap_or("jsonl").parse()?;
    q.newest_first = false;
    q.limit = Some(5000);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let hub = s.hub.clone();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let page = match hub.trace().query(q.clone()).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let mut buf = Vec::new();
            let written = {
                let mut w = if first {
                    ExportWriter::new(format, &mut buf)
                } else {
                    Ok(ExportWriter::continuation(format, &mut buf))
                };
                match &mut w {
                    Ok(w) => page.iter().try_for_each(|e| w.write(e)),
                    Err(e) => Err(e.clone()),
                }
                .and_then(|_| w.and_then(|w| w.finish().map(|_| ())))
            };
            if let Err(e) = written {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                return;
            }
            first = false;
            if !buf.is_empty() && tx.send(Ok(buf)).await.is_err() {
                return;
            }
            match page.last() {
                Some(last) => q.after_id = Some(last.id),
                None => return,
            }
        }
    });
    let (content_type, ext) = match format {
        ExportFormat::Jsonl => ("application/x-ndjson", "jsonl"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"hublet-trace.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/trace/diff`: two stretches of the trace (recordings, runs)
/// compared step by step (see `hublet_core::trace::diff`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DiffParams {
    a_after_id: i64,
    a_before_id: Option<i64>,
    a_device_id: Option<String>,
    b_after_id: i64,
    b_before_id: Option<i64>,
    b_device_id: Option<String>,
    time_tolerance_ms: Option<f64>,
    value_tolerance: Option<f64>,
    count_tolerance: Option<f64>,
}

pub async fn diff(
    State(s): State<AppState>,
    _c: ApiCaller,
    QueryParams(p): QueryParams<DiffParams>,
) -> Result<Json<hublet_core::trace::diff::TraceDiff>, ApiError> {
    use hublet_core::trace::diff::{DiffOptions, Stretch};
    let side = |after_id, before_id, device_id: Option<String>| Stretch {
        after_id,
        before_id,
        device_id: device_id.filter(|d| !d.is_empty()),
    };
    let a = s
        .hub
        .trace()
        .stretch(&side(p.a_after_id, p.a_before_id, p.a_device_id))
        .await?;
    let b = s
        .hub
        .trace()
        .stretch(&side(p.b_after_id, p.b_before_id, p.b_device_id))
        .await?;
    let d = DiffOptions::default();
    let non_negative = |name: &str, v: Option<f64>, dflt: f64| match v {
        None => Ok(dflt),
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(x) => Err(ApiError::invalid(format!("{name} {x} must be 0 or more"))),
    };
    let opts = DiffOptions {
        time_ms: non_negative("timeToleranceMs", p.time_tolerance_ms, d.time_ms)?,
        value: non_negative("valueTolerance", p.value_tolerance, d.value)?,
        count_share: non_negative("countTolerance", p.count_tolerance, d.count_share)?,
    };
    Ok(Json(hublet_core::trace::diff::diff(&a, &b, opts)))
}
