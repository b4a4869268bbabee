//! Trace export: JSON Lines (one event object per line) and CSV (RFC 4180,
//! one event per row, fixed columns).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::event::TraceEvent;
use crate::error::{HubError, HubResult};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line, exactly the API's event shape.
    Jsonl,
    /// RFC 4180 CSV with the columns in [`CSV_COLUMNS`].
    Csv,
}

impl std::str::FromStr for ExportFormat {
    type Err = HubError;
    fn from_str(s: &str) -> Result<Self, HubError> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json-lines" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(HubError::invalid(format!(
                "unknown export format '{other}' (use jsonl or csv)"
            ))),
        }
    }
}

/// The CSV header, in order: the JSON Lines field names, so one naming
/// serves both formats. `detail` holds the event's detail as compact JSON.
pub const CSV_COLUMNS: [&str; 9] = [
    "id",
    "ts",
    "monoUs",
    "kind",
    "deviceId",
    "messageId",
    "lockToken",
    "requestId",
    "detail",
];

fn io(e: impl std::fmt::Display) -> HubError {
    HubError::Internal(format!("export write failed: {e}"))
}

/// Writes events as they are exported, in either format.
pub struct ExportWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> ExportWriter<W> {
    /// Starts an export (the CSV header is written at once).
    pub fn new(format: ExportFormat, w: W) -> HubResult<ExportWriter<W>> {
        let inner = match format {
            ExportFormat::Jsonl => Inner::Jsonl(w),
            ExportFormat::Csv => {
                let mut c = csv::WriterBuilder::new().has_headers(false).from_writer(w);
                c.write_record(CSV_COLUMNS).map_err(io)?;
                Inner::Csv(Box::new(c))
            }
        };
        Ok(ExportWriter { inner })
    }

    /// Continues an export in another chunk: like [`ExportWriter::new`] but
    /// without the CSV header (for streaming an export page by page).
    pub fn continuation(format: ExportFormat, w: W) -> ExportWriter<W> {
        let inner = match format {
            ExportFormat::Jsonl => Inner::Jsonl(w),
            ExportFormat::Csv => Inner::Csv(Box::new(
                csv::WriterBuilder::new().has_headers(false).from_writer(w),
            )),
        };
        ExportWriter { inner }
    }

    /// Writes one event.
    pub fn write(&mut self, ev: &TraceEvent) -> HubResult<()> {
        match &mut self.inner {
            Inner::Jsonl(w) => {
                serde_json::to_writer(&mut *w, ev).map_err(io)?;
                w.write_all(b"\n").map_err(io)
            }
            Inner::Csv(c) => c
                .write_record([
                    ev.id.to_string(),
                    ev.ts.to_rfc3339(),
                    ev.mono_us.to_string(),
                    ev.kind_str().to_string(),
                    ev.device_id.clone().unwrap_or_default(),
                    ev.message_id.clone().unwrap_or_default(),
                    ev.lock_token.clone().unwrap_or_default(),
                    ev.request_id.clone().unwrap_or_default(),
                    ev.detail.detail_json().map_err(io)?,
                ])
                .map_err(io),
        }
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> HubResult<W> {
        match self.inner {
            Inner::Jsonl(mut w) => {
                w.flush().map_err(io)?;
                Ok(w)
            }
            Inner::Csv(c) => c.into_inner().map_err(io),
        }
    }
}

/// Reads a JSON Lines export back (for viewing a recording later).
/// Blank lines are skipped; a bad line is an error naming its line number.
pub fn read_jsonl(r: impl BufRead) -> HubResult<Vec<TraceEvent>> {
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line =
            line.map_err(|e| HubError::invalid(format!("cannot read line {}: {e}", i + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let ev: TraceEvent = serde_json::from_str(&line)
            .map_err(|e| HubError::invalid(format!("line {} is not a trace event: {e}", i + 1)))?;
        out.push(ev);
    }
    Ok(out)
}
