//! IoT Hub's query language over device twins (`POST /devices/query`):
//! `SELECT [TOP n] * | paths and aggregates [AS alias] FROM devices
//! [WHERE …] [GROUP BY …]`, parsed with a PEG grammar (`grammar.pest`)
//! and evaluated over the twins as `GET /twins/{id}` shows them.
//!
//! Semantics (docs/semantics.md, Query): a path that does not exist is
//! *undefined*; comparisons between different types or with undefined are
//! undefined; only `true` passes a `WHERE`; `AND`/`OR`/`NOT` are
//! three-valued. Path segments match exactly, else case-insensitively
//! (`DeviceId`, `LastActivityTime`). Results are ordered by device id, so
//! pages are stable.

mod eval;
mod parse;

pub use eval::{QueryPage, run};
pub use parse::{Query, parse};

/// IoT Hub's longest query text.
pub const MAX_QUERY_CHARS: usize = 8192;
/// Page size without `x-ms-max-item-count`.
pub const DEFAULT_PAGE: usize = 100;
/// Largest page served.
pub const MAX_PAGE: usize = 1000;
