//! Durations on the command line: `90` (seconds), `30s`, `10m`, `2h`, `7d`.

use std::time::Duration;

use crate::client::ClientError;
use crate::exit::codes;

/// Parses `s` for the option `flag`.
pub fn parse(flag: &str, s: &str) -> Result<Duration, ClientError> {
    let bad = || {
        ClientError::Exit(
            codes::BAD_INPUT,
            format!("{flag} '{s}' is not a duration like 90, 30s, 10m, 2h or 7d"),
        )
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bad_values() {
        assert_eq!(parse("--x", "90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("--x", "2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("--x", "7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse("--x", "soon").is_err());
        assert!(parse("--x", "3w").is_err());
    }
}
