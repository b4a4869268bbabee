//! Trace filters, shared by stored queries and live subscriptions so both
//! select exactly the same events.

use serde::{Deserialize, Serialize};

use super::event::TraceEvent;
use crate::clock::Timestamp;

/// Which events to return. Every field narrows the selection; the default
/// selects everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceQuery {
    /// Only events about this device (and its modules), or about one
    /// module (`device/module`).
    pub device_id: Option<String>,
    /// Only these kinds. `c2d.enqueued` matches exactly; `c2d` or `c2d.*`
    /// matches every `c2d.` kind.
    pub kinds: Vec<String>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// Only events whose message id or request id equals this: the whole
    /// story of one C2D message (with its feedback) or one method call.
    pub correlation: Option<String>,
    /// Only events carrying this lock token (a delivery and its settlement).
    pub lock_token: Option<String>,
    /// Only events whose detail, device or correlation keys contain this
    /// text, ignoring the case of ASCII letters (SQLite's `lower` folds
    /// only those, and stored and live filtering must agree).
    pub text: Option<String>,
    /// Only events with a larger id (for paging and catching up).
    pub after_id: Option<i64>,
    /// Only events with a smaller id (for paging backwards).
    pub before_id: Option<i64>,
    /// At most this many events (default 1000, at most 100000).
    pub limit: Option<usize>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

/// Default and maximum page sizes.
pub const DEFAULT_LIMIT: usize = 1000;
/// Largest page a query returns.
pub const MAX_LIMIT: usize = 100_000;

/// A kind filter normalised to either an exact name or a prefix.
pub(crate) enum KindFilter {
    Exact(String),
    Prefix(String),
}

impl TraceQuery {
    /// The story of one message or call: every event carrying `key`, oldest first.
    pub fn story(key: impl Into<String>) -> TraceQuery {
        TraceQuery {
            correlation: Some(key.into()),
            limit: Some(MAX_LIMIT),
            ..TraceQuery::default()
        }
    }

    pub(crate) fn kind_filters(&self) -> Vec<KindFilter> {
        self.kinds
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .map(|k| {
                if let Some(p) = k.strip_suffix(".*").or_else(|| k.strip_suffix('*')) {
                    KindFilter::Prefix(format!("{}.", p.trim_end_matches('.')))
                } else if !k.contains('.') {
                    KindFilter::Prefix(format!("{k}."))
                } else {
                    KindFilter::Exact(k.to_string())
                }
            })
            .collect()
    }

    /// The effective page size.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// True when `ev` passes every filter (ignores paging and limit).
    pub fn matches(&self, ev: &TraceEvent) -> bool {
        if let Some(d) = &self.device_id
            && !ev.device_id.as_deref().is_some_and(|e| about_device(e, d))
        {
            return false;
        }
        let kinds = self.kind_filters();
        if !kinds.is_empty()
            && !kinds.iter().any(|f| match f {
                KindFilter::Exact(k) => ev.kind_str() == k,
                KindFilter::Prefix(p) => ev.kind_str().starts_with(p.as_str()),
            })
        {
            return false;
        }
        if self.since.is_some_and(|s| ev.ts < s) || self.until.is_some_and(|u| ev.ts >= u) {
            return false;
        }
        if let Some(c) = &self.correlation {
            let c = Some(c.as_str());
            if ev.message_id.as_deref() != c && ev.request_id.as_deref() != c {
                return false;
            }
        }
        if let Some(l) = &self.lock_token
            && ev.lock_token.as_deref() != Some(l.as_str())
        {
            return false;
        }
        if let Some(t) = &self.text {
            let t = t.to_ascii_lowercase();
            let has = |h: &str| h.to_ascii_lowercase().contains(t.as_str());
            let hay = [
                ev.device_id.as_deref(),
                ev.message_id.as_deref(),
                ev.lock_token.as_deref(),
                ev.request_id.as_deref(),
            ];
            let in_keys = hay.iter().flatten().any(|h| has(h));
            if !in_keys && !ev.detail.detail_json().is_ok_and(|d| has(&d)) {
                return false;
            }
        }
        if self.after_id.is_some_and(|a| ev.id <= a) || self.before_id.is_some_and(|b| ev.id >= b) {
            return false;
        }
        true
    }
}

/// Whether an event's identity key `event` (`device` or `device/module`)
/// falls under the filter `wanted`: a device takes in its modules.
fn about_device(event: &str, wanted: &str) -> bool {
    event == wanted
        || (!wanted.contains('/')
            && event
                .strip_prefix(wanted)
                .is_some_and(|rest| rest.starts_with('/')))
}
