//! Hub-wide settings, with IoT Hub's defaults and ranges.
//!
//! Settings are stored in the database (so the desktop app and `hublet serve`
//! agree) and validated as a whole on every change. Durations are whole
//! seconds, as IoT Hub's configuration expresses them.

pub(crate) mod table;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::HubError;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Every tunable rule of the hub. This is also the API's and the UI's
/// settings type (`SettingsDto` in TypeScript), so a field's documentation
/// here is what the UI shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, rename_all = "camelCase")]
#[ts(export, rename = "SettingsDto")]
pub struct HubSettings {
    /// The HostName written into connection strings and expected in SAS `sr`.
    pub hub_name: String,
    /// Other host names the hub answers to (SAS `sr` may name any of them).
    pub host_aliases: Vec<String>,
    /// Maximum messages per device queue, Enqueued plus Invisible (IoT Hub: 50).
    pub queue_cap: u32,
    /// Maximum C2D message size, body plus properties, in bytes (IoT Hub: 65536).
    pub max_message_bytes: u32,
    /// TTL applied when a message has no expiry (IoT Hub: 1 hour).
    pub default_ttl_secs: u64,
    /// Longest allowed TTL (IoT Hub: 2 days).
    pub max_ttl_secs: u64,
    /// How long a received message stays Invisible (IoT Hub: 60 s, fixed; configurable here for benches).
    pub lock_timeout_secs: u64,
    /// Explicit abandons after which a message is dead-lettered (1–100, IoT Hub: 10).
    pub max_delivery_count: u32,
    /// Feedback message time to live (1 min – 2 days, IoT Hub: 1 hour).
    pub feedback_ttl_secs: u64,
    /// Feedback lock duration (5–300 s, IoT Hub: 60 s).
    pub feedback_lock_secs: u64,
    /// Feedback maximum delivery count (1–100, IoT Hub: 10).
    pub feedback_max_delivery_count: u32,
    /// Records per feedback batch (IoT Hub: 64).
    pub feedback_batch_size: u32,
    /// Seconds after the previous batch before pending records are batched (IoT Hub: 15).
    pub feedback_batch_window_secs: u64,
    /// Direct-method calls allowed in flight per device.
    pub method_inflight_limit: u32,
    /// Trace events older than this are deleted (0 keeps them forever).
    pub trace_max_age_secs: u64,
    /// At most this many trace events are kept (0 means no limit).
    pub trace_max_events: u64,
    /// Partitions of the Event Hub-compatible endpoint (IoT Hub: 4 by
    /// default). Fixed once the first event is stored.
    pub event_partitions: u32,
    /// How long device-to-cloud events are kept for readers (IoT Hub: 1 day).
    pub event_retention_secs: u64,
    /// At most this many events are kept per partition (0 means no limit).
    pub event_max_per_partition: u64,
    /// "Open bench": devices may connect without a SAS token (MQTT with an
    /// empty password). Off by default; meant for a bench on a private network.
    pub open_bench: bool,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            hub_name: "localhost".into(),
            host_aliases: Vec::new(),
            queue_cap: 50,
            max_message_bytes: 64 * 1024,
            default_ttl_secs: HOUR,
            max_ttl_secs: 2 * DAY,
            lock_timeout_secs: 60,
            max_delivery_count: 10,
            feedback_ttl_secs: HOUR,
            feedback_lock_secs: 60,
            feedback_max_delivery_count: 10,
            feedback_batch_size: 64,
            feedback_batch_window_secs: 15,
            method_inflight_limit: 100,
            trace_max_age_secs: 7 * DAY,
            trace_max_events: 5_000_000,
            event_partitions: 4,
            event_retention_secs: DAY,
            event_max_per_partition: 1_000_000,
            open_bench: false,
        }
    }
}

/// The allowed range of one numeric setting, and IoT Hub's value for it.
/// One table serves validation and the rules the API publishes (so the
/// UI never keeps its own copy).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SettingRange {
    /// The setting, by its JSON name.
    pub field: &'static str,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value (for `defaultTtlSecs`: the current `maxTtlSecs`).
    pub max: u64,
    /// IoT Hub's value, when it has one.
    pub iot_hub: Option<u64>,
    /// What the number counts.
    pub unit: SettingUnit,
    #[serde(skip)]
    #[ts(skip)]
    get: fn(&HubSettings) -> u64,
}

impl SettingRange {
    /// The setting's value in `s`.
    pub fn get(&self, s: &HubSettings) -> u64 {
        (self.get)(s)
    }
}

/// What a numeric setting counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SettingUnit {
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A number of things.
    Count,
}

impl HubSettings {
    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), HubError> {
        validate_host_name(&self.hub_name).map_err(|e| in_field("hubName", e))?;
        for a in &self.host_aliases {
            validate_host_name(a).map_err(|e| in_field("hostAliases", e))?;
        }
        for r in self.ranges() {
            let v = r.get(self);
            if v < r.min || v > r.max {
                return Err(HubError::invalid_field(
                    r.field,
                    format!(
                        "{} is {v}; it must be between {} and {}",
                        r.field, r.min, r.max
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The range of every numeric setting (0 for the trace limits means "no limit").
    pub fn ranges(&self) -> Vec<SettingRange> {
        use SettingUnit::*;
        let r = |field, min, max, iot_hub, unit, get| SettingRange {
            field,
            min,
            max,
            iot_hub,
            unit,
            get,
        };
        vec![
            r("queueCap", 1, 10_000, Some(50), Count, |s: &HubSettings| {
                u64::from(s.queue_cap)
            }),
            r(
                "maxMessageBytes",
                1024,
                16 * 1024 * 1024,
                Some(65_536),
                Bytes,
                |s: &HubSettings| u64::from(s.max_message_bytes),
            ),
            r(
                "maxTtlSecs",
                MINUTE,
                365 * DAY,
                Some(2 * DAY),
                Seconds,
                |s: &HubSettings| s.max_ttl_secs,
            ),
            r(
                "defaultTtlSecs",
                MINUTE,
                self.max_ttl_secs,
                Some(HOUR),
                Seconds,
                |s: &HubSettings| s.default_ttl_secs,
            ),
            r(
                "lockTimeoutSecs",
                1,
                HOUR,
                Some(60),
                Seconds,
                |s: &HubSettings| s.lock_timeout_secs,
            ),
            r(
                "maxDeliveryCount",
                1,
                100,
                Some(10),
                Count,
                |s: &HubSettings| u64::from(s.max_delivery_count),
            ),
            r(
                "feedbackTtlSecs",
                MINUTE,
                2 * DAY,
                Some(HOUR),
                Seconds,
                |s: &HubSettings| s.feedback_ttl_secs,
            ),
            r(
                "feedbackLockSecs",
                5,
                300,
                Some(60),
                Seconds,
                |s: &HubSettings| s.feedback_lock_secs,
            ),
            r(
                "feedbackMaxDeliveryCount",
                1,
                100,
                Some(10),
                Count,
                |s: &HubSettings| u64::from(s.feedback_max_delivery_count),
            ),
            r(
                "feedbackBatchSize",
                1,
                1000,
                Some(64),
                Count,
                |s: &HubSettings| u64::from(s.feedback_batch_size),
            ),
            r(
                "feedbackBatchWindowSecs",
                0,
                HOUR,
                Some(15),
                Seconds,
                |s: &HubSettings| s.feedback_batch_window_secs,
            ),
            r(
                "methodInflightLimit",
                1,
                10_000,
                None,
                Count,
                |s: &HubSettings| u64::from(s.method_inflight_limit),
            ),
            r(
                "traceMaxAgeSecs",
                0,
                u64::from(u32::MAX),
                None,
                Seconds,
                |s: &HubSettings| s.trace_max_age_secs,
            ),
            r(
                "traceMaxEvents",
                0,
                1_000_000_000,
                None,
                Count,
                |s: &HubSettings| s.trace_max_events,
            ),
            r(
                "eventPartitions",
                1,
                32,
                Some(4),
                Count,
                |s: &HubSettings| u64::from(s.event_partitions),
            ),
            r(
                "eventRetentionSecs",
                60,
                7 * DAY,
                Some(DAY),
                Seconds,
                |s: &HubSettings| s.event_retention_secs,
            ),
            r(
                "eventMaxPerPartition",
                0,
                1_000_000_000,
                None,
                Count,
                |s: &HubSettings| s.event_max_per_partition,
            ),
        ]
    }

    /// Lock timeout as a duration.
    pub fn lock_timeout(&self) -> Duration {
        Duration::from_secs(self.lock_timeout_secs)
    }

    /// Every host name the hub answers to, lower-cased: the hub name, the
    /// aliases, and the loopback names (a SAS token made for
    /// `localhost:8443`, as the Azure service SDK makes from Hublet's service
    /// connection string, names this hub whatever its hub name).
    pub fn host_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::iter::once(&self.hub_name)
            .chain(self.host_aliases.iter())
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for loopback in ["localhost", "127.0.0.1", "[::1]"] {
            if !names.iter().any(|n| n == loopback) {
                names.push(loopback.to_string());
            }
        }
        names
    }
}

fn in_field(field: &str, e: HubError) -> HubError {
    HubError::invalid_field(field, e.to_string())
}

/// A host name (optionally with `:port`) as used in connection strings.
fn validate_host_name(h: &str) -> Result<(), HubError> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:_[]".contains(c));
    if ok {
        Ok(())
    } else {
        Err(HubError::invalid(format!(
            "'{}' is not a valid host name (letters, digits, '-', '.', optional ':port')",
            h.escape_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_iot_hub_and_validate() {
        let s = HubSettings::default();
        s.validate().unwrap();
        assert_eq!(s.queue_cap, 50);
        assert_eq!(s.max_delivery_count, 10);
        assert_eq!(s.default_ttl_secs, 3600);
        assert_eq!(s.max_ttl_secs, 172_800);
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_field_name() {
        let s = HubSettings {
            max_delivery_count: 101,
            ..HubSettings::default()
        };
        let e = s.validate().unwrap_err();
        assert_eq!(e.field(), Some("maxDeliveryCount"), "{e}");
    }
}
