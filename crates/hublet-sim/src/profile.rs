//! Device profiles: TOML files that describe how a simulated device behaves.
//!
//! ```toml
//! name = "thermostat"
//! description = "Reports temperature; answers setSetpoint."
//!
//! [connectivity]            # all optional
//! online_after_secs = 0      # first connection after this delay
//! offline_every_secs = 60    # a cycle of this length…
//! offline_for_secs = 50      # …of which the device spends this long offline
//! drop_probability = 0.0     # chance per second online that the link drops
//! backoff_initial_secs = 1   # reconnect back-off after a drop (doubles)…
//! backoff_max_secs = 30      # …up to this
//!
//! [c2d]
//! action = "complete"        # complete | withhold | reject | abandon
//! probability = 1.0          # chance the action is taken (else: complete)
//! delay_secs = 0.0           # wait before acting (or delay_min_secs/delay_max_secs)
//! poll_secs = 1.0            # HTTP polling interval (reject/abandon use HTTP)
//!
//! [telemetry]
//! interval_secs = 10
//! template = { temperature = "{{sine(600, 2, 21)}}" }
//!
//! [methods.setSetpoint]      # or [methods.default] for any other name
//! status = 200
//! payload = { accepted = "{{request.setpoint}}" }
//! delay_min_secs = 0.1       # reply after a random delay in [min, max]
//! delay_max_secs = 0.5
//! # echo = true              # reply with the request payload
//! # reply = false            # never reply (the caller gets 504101)
//! # fail_after = 3           # after 3 calls, reply fail_status / fail_payload
//!
//! [twin]                     # the device twin (MQTT)
//! reported = { firmware = "1.4.2" }  # reported at every connection (templates)
//! desired = "acknowledge"    # acknowledge | echo | ignore | decline: what a desired patch gets
//! delay_min_secs = 0.1       # report after a random delay in [min, max]
//! delay_max_secs = 0.5
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template;

/// A profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name (file name without `.toml`).
    pub name: String,
    /// One or two sentences shown in lists.
    #[serde(default)]
    pub description: String,
    /// When the device is online.
    #[serde(default)]
    pub connectivity: Connectivity,
    /// How it treats C2D messages.
    #[serde(default)]
    pub c2d: C2dBehaviour,
    /// What it sends, if anything.
    #[serde(default)]
    pub telemetry: Option<Telemetry>,
    /// Method replies by name; `default` answers any other name. Without
    /// any entry the device does not subscribe to methods.
    #[serde(default)]
    pub methods: BTreeMap<String, MethodBehaviour>,
    /// Its twin, if it uses one.
    #[serde(default)]
    pub twin: Option<TwinBehaviour>,
}

/// What a simulated device does with its twin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwinBehaviour {
    /// Reported at every connection (a JSON template).
    pub reported: Value,
    /// How it answers a desired-properties patch.
    pub desired: DesiredAnswer,
    /// Random delay bounds before it reports.
    pub delay_min_secs: f64,
    /// Random delay bounds.
    pub delay_max_secs: f64,
    /// Reported every `report_every_secs` while connected (a JSON
    /// template, rendered afresh each time: a battery level, an uptime).
    pub periodic: Value,
    /// Period of `periodic` (0: never).
    pub report_every_secs: f64,
}

impl Default for TwinBehaviour {
    fn default() -> Self {
        TwinBehaviour {
            reported: Value::Null,
            desired: DesiredAnswer::Acknowledge,
            delay_min_secs: 0.0,
            delay_max_secs: 0.0,
            periodic: Value::Null,
            report_every_secs: 0.0,
        }
    }
}

/// How a simulated device answers a desired-properties patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredAnswer {
    /// As IoT Plug and Play writable properties: each property reported as
    /// `{"value", "ac": 200, "av": <desired $version>, "ad": "completed"}`.
    #[default]
    Acknowledge,
    /// Each property reported back with the same value.
    Echo,
    /// Nothing reported.
    Ignore,
    /// Refused the IoT Plug and Play way: reported as `{"value": <the
    /// value it kept>, "ac": 400, "av": <desired $version>, "ad": "declined"}`,
    /// so the reported value differs from the desired one.
    Decline,
}

/// Online and offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Connectivity {
    /// First connection after this many seconds.
    pub online_after_secs: f64,
    /// Length of an online/offline cycle (0: always online).
    pub offline_every_secs: f64,
    /// Time offline in each cycle.
    pub offline_for_secs: f64,
    /// Chance per second online that the link drops without a goodbye.
    pub drop_probability: f64,
    /// First reconnect delay after a drop or a failed connection.
    pub backoff_initial_secs: f64,
    /// Longest reconnect delay.
    pub backoff_max_secs: f64,
}

impl Default for Connectivity {
    fn default() -> Self {
        Connectivity {
            online_after_secs: 0.0,
            offline_every_secs: 0.0,
            offline_for_secs: 0.0,
            drop_probability: 0.0,
            backoff_initial_secs: 1.0,
            backoff_max_secs: 30.0,
        }
    }
}

/// What to do with a C2D message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum C2dAction {
    /// Complete it (MQTT PUBACK).
    #[default]
    Complete,
    /// Never acknowledge it: its lock expires and it is delivered again.
    Withhold,
    /// Reject it (HTTP device endpoint): dead-lettered, `Rejected` feedback.
    Reject,
    /// Abandon it (HTTP device endpoint): back to the queue, delivery count + 1.
    Abandon,
}

/// C2D handling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct C2dBehaviour {
    /// The action.
    pub action: C2dAction,
    /// Chance it is taken for a message; otherwise the message is completed.
    pub probability: f64,
    /// Fixed delay before acting.
    pub delay_secs: f64,
    /// Random delay bounds (override `delay_secs` when `delay_max_secs > 0`).
    pub delay_min_secs: f64,
    /// Random delay bounds.
    pub delay_max_secs: f64,
    /// HTTP polling interval (reject and abandon receive over HTTP).
    pub poll_secs: f64,
    /// Do not receive C2D at all.
    pub ignore: bool,
}

impl Default for C2dBehaviour {
    fn default() -> Self {
        C2dBehaviour {
            action: C2dAction::Complete,
            probability: 1.0,
            delay_secs: 0.0,
            delay_min_secs: 0.0,
            delay_max_secs: 0.0,
            poll_secs: 1.0,
            ignore: false,
        }
    }
}

impl C2dBehaviour {
    /// Reject and abandon exist only on the HTTP device endpoints.
    pub fn uses_http(&self) -> bool {
        matches!(self.action, C2dAction::Reject | C2dAction::Abandon)
    }
}

/// Periodic telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// Seconds between messages.
    pub interval_secs: f64,
    /// The body (a JSON template).
    pub template: Value,
    /// Application properties (templates allowed).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A method's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MethodBehaviour {
    /// Status returned.
    pub status: i32,
    /// Payload returned (a JSON template).
    pub payload: Value,
    /// Reply with the request's payload instead.
    pub echo: bool,
    /// Reply at all (false: the caller times out, 504101).
    pub reply: bool,
    /// Fixed delay before replying.
    pub delay_secs: f64,
    /// Random delay bounds (override `delay_secs` when `delay_max_secs > 0`).
    pub delay_min_secs: f64,
    /// Random delay bounds.
    pub delay_max_secs: f64,
    /// After this many successful calls, reply with the failure instead.
    pub fail_after: Option<u64>,
    /// Status of a failing reply.
    pub fail_status: i32,
    /// Payload of a failing reply.
    pub fail_payload: Value,
    /// Replies in order: call n gets `replies[(n - 1) % len]`, with its own
    /// status, payload and delay (what `hublet sim record` writes from a
    /// recorded device, so the replay answers as the device did). When
    /// given, `status`, `payload`, `echo` and the delays are not used.
    pub replies: Vec<RecordedReply>,
}

/// One reply of a [`MethodBehaviour::replies`] sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedReply {
    /// Status returned.
    pub status: i32,
    /// Payload returned (a JSON template).
    #[serde(default)]
    pub payload: Value,
    /// Delay before replying.
    #[serde(default)]
    pub delay_secs: f64,
}

impl Default for MethodBehaviour {
    fn default() -> Self {
        MethodBehaviour {
            status: 200,
            payload: Value::Null,
            echo: false,
            reply: true,
            delay_secs: 0.0,
            delay_min_secs: 0.0,
            delay_max_secs: 0.0,
            fail_after: None,
            fail_status: 500,
            fail_payload: serde_json::json!({"error": "simulated failure after {{count}} calls"}),
            replies: Vec::new(),
        }
    }
}

/// A profile that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile '{name}': {message}")]
pub struct ProfileError {
    /// The profile.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl Profile {
    /// Parses and validates a TOML profile.
    pub fn from_toml(text: &str, fallback_name: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text).map_err(|e| ProfileError {
            name: fallback_name.to_string(),
            message: e.to_string(),
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Checks ranges and templates.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let err = |m: String| ProfileError {
            name: self.name.clone(),
            message: m,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err("name must be letters, digits, '-' or '_'".into()));
        }
        let c = &self.connectivity;
        for (what, v) in [
            ("drop_probability", c.drop_probability),
            ("c2d.probability", self.c2d.probability),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(err(format!("{what} must be between 0 and 1")));
            }
        }
        if c.offline_every_secs > 0.0
            && !(c.offline_for_secs > 0.0 && c.offline_for_secs < c.offline_every_secs)
        {
            return Err(err(
                "offline_for_secs must be above 0 and below offline_every_secs".into(),
            ));
        }
        if c.backoff_initial_secs <= 0.0 || c.backoff_max_secs < c.backoff_initial_secs {
            return Err(err(
                "backoff_initial_secs must be above 0 and at most backoff_max_secs".into(),
            ));
        }
        if self.c2d.poll_secs <= 0.0 {
            return Err(err("c2d.poll_secs must be above 0".into()));
        }
        if let Some(t) = &self.telemetry {
            if t.interval_secs <= 0.0 {
                return Err(err("telemetry.interval_secs must be above 0".into()));
            }
            template::validate(&t.template).map_err(|e| err(format!("telemetry.template: {e}")))?;
        }
        if let Some(t) = &self.twin {
            template::validate(&t.reported).map_err(|e| err(format!("twin.reported: {e}")))?;
            if !(t.reported.is_null() || t.reported.is_object()) {
                return Err(err("twin.reported must be a table of properties".into()));
            }
            if t.delay_max_secs < t.delay_min_secs {
                return Err(err("twin: delay_max_secs is below delay_min_secs".into()));
            }
            template::validate(&t.periodic).map_err(|e| err(format!("twin.periodic: {e}")))?;
            if !(t.periodic.is_null() || t.periodic.is_object()) {
                return Err(err("twin.periodic must be a table of properties".into()));
            }
            if t.report_every_secs < 0.0 || (t.periodic.is_object() && t.report_every_secs <= 0.0) {
                return Err(err(
                    "twin.report_every_secs must be above 0 when twin.periodic is given".into(),
                ));
            }
        }
        for (name, m) in &self.methods {
            if name != "default" {
                hublet_core::ids::validate_method_name(name)
                    .map_err(|e| err(format!("methods.{name}: {e}")))?;
            }
            template::validate(&m.payload)
                .map_err(|e| err(format!("methods.{name}.payload: {e}")))?;
            template::validate(&m.fail_payload)
                .map_err(|e| err(format!("methods.{name}.fail_payload: {e}")))?;
            if m.delay_max_secs < m.delay_min_secs {
                return Err(err(format!(
                    "methods.{name}: delay_max_secs is below delay_min_secs"
                )));
            }
        }
        Ok(())
    }

    /// The reply for `method`, falling back to `default`.
    pub fn method(&self, method: &str) -> Option<&MethodBehaviour> {
        self.methods
            .get(method)
            .or_else(|| self.methods.get("default"))
    }

    /// First connection delay.
    pub fn online_after(&self) -> Duration {
        secs(self.connectivity.online_after_secs)
    }
}

/// A delay drawn from fixed or random bounds.
pub fn draw_delay(fixed: f64, min: f64, max: f64, rng: &mut rand::rngs::StdRng) -> Duration {
    use rand::Rng;
    if max > 0.0 && max > min {
        secs(rng.random_range(min..max))
    } else if max > 0.0 {
        secs(max)
    } else {
        secs(fixed)
    }
}

/// The profiles shipped with Hublet (the files in the repository's `profiles/`).
pub fn builtin() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "thermostat",
            include_str!("../../../profiles/thermostat.toml"),
        ),
        (
            "door-lock",
            include_str!("../../../profiles/door-lock.toml"),
        ),
        (
            "sleepy-sensor",
            include_str!("../../../profiles/sleepy-sensor.toml"),
        ),
        (
            "flaky-link",
            include_str!("../../../profiles/flaky-link.toml"),
        ),
        (
            "unresponsive",
            include_str!("../../../profiles/unresponsive.toml"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses_and_validates() {
        for (name, text) in builtin() {
            let p = Profile::from_toml(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
            assert!(!p.description.is_empty(), "{name} needs a description");
        }
    }

    #[test]
    fn mistakes_are_reported_with_the_field() {
        let e = Profile::from_toml("name = \"x\"\n[c2d]\nprobability = 2.0\n", "x").unwrap_err();
        assert!(e.message.contains("c2d.probability"), "{e}");
        let e = Profile::from_toml("name = \"x\"\n[c2d]\nactoin = \"reject\"\n", "x").unwrap_err();
        assert!(
            e.message.contains("actoin"),
            "unknown fields are refused: {e}"
        );
        let e = Profile::from_toml("name = \"x\"\n[methods.go]\npayload = \"{{nope}}\"\n", "x")
            .unwrap_err();
        assert!(e.message.contains("methods.go.payload"), "{e}");
        let e = Profile::from_toml(
            "name = \"x\"\n[connectivity]\noffline_every_secs = 10\noffline_for_secs = 20\n",
            "x",
        )
        .unwrap_err();
        assert!(e.message.contains("offline_for_secs"), "{e}");
    }
}
