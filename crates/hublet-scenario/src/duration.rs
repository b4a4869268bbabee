//! Durations in scenario files: `"10s"`, `"250ms"`, `"2m 30s"` (humantime's
//! syntax) or a plain number of seconds.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration a scenario may give.
pub const MAX: Duration = Duration::from_secs(365 * 86_400);

/// A duration as a scenario writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    /// Parses humantime's syntax: each part a whole number with a unit
    /// (`1s 500ms`); a fraction of a second is written as a number instead.
    pub fn parse(s: &str) -> Result<Dur, String> {
        let d = humantime::parse_duration(s.trim())
            .map_err(|e| format!("'{s}' is not a duration like \"10s\" or \"250ms\": {e}"))?;
        Dur::capped(d)
    }

    /// A duration no longer than [`MAX`] (a year: more is a mistake, and
    /// deadlines computed from it must not overflow).
    fn capped(d: Duration) -> Result<Dur, String> {
        if d > MAX {
            Err(format!(
                "{} is longer than a scenario may wait (365 days)",
                humantime::format_duration(d)
            ))
        } else {
            Ok(Dur(d))
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) if s.is_finite() && s >= 0.0 => Duration::try_from_secs_f64(s)
                .map_err(|e| e.to_string())
                .and_then(Dur::capped)
                .map_err(serde::de::Error::custom),
            Raw::Secs(s) => Err(serde::de::Error::custom(format!(
                "{s} is not a duration (seconds must be 0 or more)"
            ))),
            Raw::Text(t) => Dur::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: \"10s\", \"250ms\", \"2m 30s\", or a number of seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*([0-9]+\\s*[a-zA-Zµ]+\\s*)+$" },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_numbers() {
        assert_eq!(Dur::parse("250ms"), Ok(Dur(Duration::from_millis(250))));
        assert_eq!(Dur::parse("2m 30s"), Ok(Dur(Duration::from_secs(150))));
        assert!(Dur::parse("ten seconds").is_err());
        let v: Dur = serde_json::from_str("1.5").expect("seconds");
        assert_eq!(v, Dur(Duration::from_millis(1500)));
        assert!(serde_json::from_str::<Dur>("-1").is_err());
        assert!(serde_json::from_str::<Dur>("1e20").is_err());
        assert!(Dur::parse("400d").is_err());
    }
}
