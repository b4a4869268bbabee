//! The process's file-descriptor limit and how it is shared between
//! listeners.

/// Descriptors kept back for everything that is not a client connection:
/// the database and its WAL, trace exports, serial ports, the UI's files,
/// the runtime's own.
pub const RESERVE: u64 = 128;

/// The fewest connections a listener is ever capped at, however low the
/// limit: a hub that accepts nobody is useless.
pub const FLOOR: usize = 16;

/// Raises the soft limit on open descriptors to the hard limit (capped at
/// about a million), and returns the soft limit now in force. On platforms
/// without such limits it returns `u64::MAX`.
///
/// Failure to raise is not an error: the hub runs within whatever it has
/// and [`Budget`] divides that.
pub fn raise_limit() -> u64 {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(1 << 20) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("cannot raise the descriptor limit: {e}");
                current_limit()
            }
        }
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// The soft limit on open descriptors now in force.
pub fn current_limit() -> u64 {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024)
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// A listener's part of the descriptor budget, in percent of what is left
/// after [`RESERVE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share(pub u8);

impl Share {
    /// Device connections over MQTT (plain and TLS together): most of it,
    /// because devices are what the hub is for.
    pub const MQTT: Share = Share(50);
    /// The REST API (HTTP and HTTPS together).
    pub const API: Share = Share(20);
    /// AMQP (service and Event Hub clients).
    pub const AMQP: Share = Share(20);
}

/// The descriptor limit, divided between listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft descriptor limit.
    pub limit: u64,
}

impl Budget {
    /// Raises the limit (see [`raise_limit`]) and returns the budget.
    pub fn acquire() -> Budget {
        Budget {
            limit: raise_limit(),
        }
    }

    /// A budget for a given limit (tests, and platforms without limits).
    pub fn of(limit: u64) -> Budget {
        Budget { limit }
    }

    /// The most connections a listener with `share` may hold, and never
    /// more than `wanted` (a configured cap). `listeners` is how many
    /// listeners split the share (HTTP and HTTPS split the API's).
    pub fn cap(&self, share: Share, listeners: usize, wanted: usize) -> usize {
        let usable = self.limit.saturating_sub(RESERVE);
        let part = usable / 100 * u64::from(share.0) / listeners.max(1) as u64;
        let part = usize::try_from(part).unwrap_or(usize::MAX);
        part.max(FLOOR).min(wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desktop_default_limit_leaves_room_for_every_listener() {
        let b = Budget::of(1024);
        let mqtt = b.cap(Share::MQTT, 1, 50_000);
        let api = b.cap(Share::API, 2, 1_000) * 2;
        let amqp = b.cap(Share::AMQP, 1, 1_000);
        assert!(mqtt + api + amqp + RESERVE as usize <= 1024);
        assert!(mqtt >= 400, "{mqtt}");
        assert!(api >= 150, "{api}");
    }

    #[test]
    fn a_configured_cap_is_never_exceeded() {
        assert_eq!(Budget::of(1 << 20).cap(Share::MQTT, 1, 500), 500);
    }

    #[test]
    fn a_tiny_limit_still_admits_a_few() {
        assert_eq!(Budget::of(64).cap(Share::API, 2, 1_000), FLOOR);
    }

    #[test]
    fn no_limit_means_the_configured_cap() {
        assert_eq!(Budget::of(u64::MAX).cap(Share::API, 1, 1_000), 1_000);
    }
}
