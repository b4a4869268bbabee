//! Time, injected.
//!
//! Every timed rule of the hub (message TTL, lock timeouts, method timeouts,
//! feedback batching, sweeps, trace retention) asks a [`Clock`] for the time
//! and for sleeps, never the operating system directly. Production uses
//! [`SystemClock`]; tests use [`ManualClock`] and move time forward by hand, so
//! a 60-second lock expiry is tested in microseconds and without flakiness.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// A wall-clock instant: milliseconds since the Unix epoch, UTC.
///
/// Milliseconds are what SQLite stores and what IoT Hub's timestamps resolve
/// to in practice; the type keeps arithmetic on it explicit. In JSON it is an
/// RFC 3339 UTC string (`2030-01-01T00:00:00.000Z`); it also reads integer
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, ts_rs::TS)]
#[ts(type = "string")]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Millis(ms) => Ok(Timestamp(ms)),
            Raw::Text(t) => Timestamp::parse_rfc3339(&t).ok_or_else(|| {
                serde::de::Error::custom(format!("'{t}' is not an RFC 3339 date-time"))
            }),
        }
    }
}

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus `d` (saturating).
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// Whole Unix seconds (SAS tokens count in seconds).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The instant as a chrono date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// ISO-8601 / RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T05:30:57.123Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses an RFC 3339 date-time (any offset) into a timestamp.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|d| Timestamp(d.timestamp_millis()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A boxed sleep future returned by [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The source of time for the whole hub.
pub trait Clock: Send + Sync + 'static {
    /// Current wall-clock time.
    fn now(&self) -> Timestamp;
    /// Monotonic time since the clock was created; orders trace events even
    /// when the wall clock steps.
    fn monotonic(&self) -> Duration;
    /// Resolves once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Timestamp) -> Sleep;
    /// Resolves after `d` of this clock's time.
    fn sleep(&self, d: Duration) -> Sleep {
        self.sleep_until(self.now().plus(d))
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock, with tokio timers for sleeps.
#[derive(Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl SystemClock {
    /// A system clock as a shared handle.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock {
            start: std::time::Instant::now(),
        })
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let wait = deadline.since(self.now());
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when told to: virtual time for tests and
/// deterministic simulations.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    state: Mutex<ManualState>,
    next_id: AtomicU64,
}

struct ManualState {
    now: i64,
    mono: Duration,
    sleepers: BTreeMap<(i64, u64), Waker>,
}

impl ManualClock {
    /// A manual clock starting at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            inner: Arc::new(ManualInner {
                state: Mutex::new(ManualState {
                    now: start.0,
                    mono: Duration::ZERO,
                    sleepers: BTreeMap::new(),
                }),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// A manual clock starting at a fixed, recognisable instant (2030-01-01T00:00:00Z).
    pub fn at_2030() -> ManualClock {
        ManualClock::new(Timestamp(1_893_456_000_000))
    }

    /// This clock as a shared handle.
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }

    /// Moves time forward by `d` and wakes every sleeper whose deadline passed.
    pub fn advance(&self, d: Duration) {
        let wakers = {
            let mut st = lock(&self.inner.state);
            st.now = st
                .now
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            st.mono += d;
            let now = st.now;
            let later = st.sleepers.split_off(&(now.saturating_add(1), 0));
            std::mem::replace(&mut st.sleepers, later)
        };
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// How many sleeps are currently waiting on this clock (lets a test wait
    /// until a task has parked before moving time).
    pub fn sleepers(&self) -> usize {
        lock(&self.inner.state).sleepers.len()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(lock(&self.inner.state).now)
    }

    fn monotonic(&self) -> Duration {
        lock(&self.inner.state).mono
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        Box::pin(ManualSleep {
            inner: self.inner.clone(),
            key: (deadline.0, id),
        })
    }
}

struct ManualSleep {
    inner: Arc<ManualInner>,
    key: (i64, u64),
}

impl Future for ManualSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.inner.state);
        if st.now >= self.key.0 {
            st.sleepers.remove(&self.key);
            Poll::Ready(())
        } else {
            st.sleepers.insert(self.key, cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        lock(&self.inner.state).sleepers.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_wakes_only_when_time_reaches_deadline() {
        let clock = ManualClock::at_2030();
        let c = clock.clone();
        let task = tokio::spawn(async move { c.sleep(Duration::from_secs(5)).await });
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        clock.advance(Duration::from_secs(4));
        tokio::task::yield_now().await;
        assert!(!task.is_finished(), "woke before its deadline");
        clock.advance(Duration::from_secs(1));
        task.await.unwrap();
        assert_eq!(clock.sleepers(), 0);
    }

    #[test]
    fn rfc3339_round_trip_keeps_milliseconds() {
        let t = Timestamp(1_893_456_000_123);
        assert_eq!(t.to_rfc3339(), "2030-01-01T00:00:00.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
    }
}
