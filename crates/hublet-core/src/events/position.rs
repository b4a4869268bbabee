//! Where a reader starts in a partition: IoT Hub's (Event Hubs') event
//! positions, and the selector-filter text the Event Hubs SDKs send for
//! them (`amqp.annotation.x-opt-offset > '-1'`, …).

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

/// A starting position in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The oldest retained event (offset `-1`).
    Earliest,
    /// Only events enqueued from now on (`@latest`).
    Latest,
    /// After (or at, when inclusive) an offset.
    Offset {
        /// The offset.
        offset: i64,
        /// Include the event at that offset.
        inclusive: bool,
    },
    /// After (or at, when inclusive) a sequence number.
    Sequence {
        /// The sequence number.
        sequence_number: i64,
        /// Include the event with that sequence number.
        inclusive: bool,
    },
    /// Events enqueued after (or at, when inclusive) a time.
    Enqueued {
        /// The time.
        time: Timestamp,
        /// Include events enqueued exactly then.
        inclusive: bool,
    },
}

impl Position {
    /// Reads a selector filter: `amqp.annotation.<x-opt-offset |
    /// x-opt-sequence-number | x-opt-enqueued-time | x-opt-enqueuedtimeutc>
    /// <'>' | '>='> <value>`, the value quoted or not; the offset `-1` is
    /// the earliest event and `@latest` the end. Anything else is 400004
    /// saying what was expected.
    pub fn parse_selector(text: &str) -> HubResult<Position> {
        let bad = || {
            HubError::invalid(format!(
                "the filter '{text}' is not an Event Hubs position: expected amqp.annotation.x-opt-offset, \
                 x-opt-sequence-number or x-opt-enqueued-time, then > or >=, then a value"
            ))
        };
        let rest = text.trim();
        let rest = rest
            .get(..16)
            .filter(|p| p.eq_ignore_ascii_case("amqp.annotation."))
            .map(|_| &rest[16..])
            .ok_or_else(bad)?;
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>')
            .ok_or_else(bad)?;
        let (name, rest) = rest.split_at(name_end);
        let rest = rest.trim_start();
        let (inclusive, rest) = if let Some(r) = rest.strip_prefix(">=") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (false, r)
        } else {
            return Err(bad());
        };
        let value = rest.trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .unwrap_or(value);
        let number = || value.parse::<i64>().map_err(|_| bad());
        match name.to_ascii_lowercase().as_str() {
            "x-opt-offset" if value == "@latest" => Ok(Position::Latest),
            "x-opt-offset" => match number()? {
                -1 => Ok(Position::Earliest),
                n if n < -1 => Err(bad()),
                offset => Ok(Position::Offset { offset, inclusive }),
            },
            "x-opt-sequence-number" => Ok(Position::Sequence {
                sequence_number: number()?,
                inclusive,
            }),
            "x-opt-enqueued-time" | "x-opt-enqueuedtimeutc" => Ok(Position::Enqueued {
                time: Timestamp(number()?),
                inclusive,
            }),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_filters_are_read() {
        let cases = [
            ("amqp.annotation.x-opt-offset > '-1'", Position::Earliest),
            ("amqp.annotation.x-opt-offset > -1", Position::Earliest),
            ("amqp.annotation.x-opt-offset > '@latest'", Position::Latest),
            (
                "amqp.annotation.x-opt-offset >= '1024'",
                Position::Offset {
                    offset: 1024,
                    inclusive: true,
                },
            ),
            (
                "amqp.annotation.x-opt-sequence-number > '7'",
                Position::Sequence {
                    sequence_number: 7,
                    inclusive: false,
                },
            ),
            (
                "amqp.annotation.x-opt-enqueued-time > '1700000000000'",
                Position::Enqueued {
                    time: Timestamp(1_700_000_000_000),
                    inclusive: false,
                },
            ),
            (
                "amqp.annotation.x-opt-enqueuedtimeutc > 1552556128291",
                Position::Enqueued {
                    time: Timestamp(1_552_556_128_291),
                    inclusive: false,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Position::parse_selector(text).ok(), Some(want), "{text}");
        }
        for bad in [
            "",
            "x-opt-offset > '1'",
            "amqp.annotation.x-opt-offset < '1'",
            "amqp.annotation.x-opt-offset > 'abc'",
            "amqp.annotation.x-opt-offset > '-5'",
            "amqp.annotation.x-opt-partition-key > 'a'",
            "amqp.annotation.",
        ] {
            let e = Position::parse_selector(bad).err();
            assert_eq!(e.map(|e| e.code().number()), Some(400004), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_text_panics_the_parser(s in ".{0,80}") {
            let _ = Position::parse_selector(&s);
        }
    }
}
