#![allow(missing_docs, clippy::unwrap_used)]
//! Engine benchmarks: full C2D life cycles and trace appends.
//!
//! ```text
//! cargo bench -p hublet-core --bench engine -- [--devices 1000] [--tasks 1000]
//!     [--lifecycles 200000] [--events 1000000] [--durability full|normal]
//! ```
//!
//! Results go to `docs/benchmarks.md` by hand, with the machine they ran on.

use std::time::{Duration, Instant};

use hublet_core::trace::NewEvent;
use hublet_core::trace::detail::{C2dCompleted, TelemetryReceived};
use hublet_core::{
    BodyPreview, Durability, Hub, HubOptions, HubSettings, NewDevice, NewMessage, TraceDetail,
};

struct Args {
    devices: usize,
    tasks: usize,
    lifecycles: usize,
    events: usize,
    durability: Durability,
    trace_devices: usize,
}

fn args() -> Args {
    let mut a = Args {
        devices: 1000,
        tasks: 1000,
        lifecycles: 200_000,
        events: 1_000_000,
        durability: Durability::Full,
        trace_devices: 1000,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--devices" => a.devices = next.parse().expect("--devices N"),
            "--tasks" => a.tasks = next.parse().expect("--tasks N"),
            "--lifecycles" => a.lifecycles = next.parse().expect("--lifecycles N"),
            "--events" => a.events = next.parse().expect("--events N"),
            "--trace-devices" => a.trace_devices = next.parse().expect("--trace-devices N"),
            "--durability" => {
                a.durability = match next.as_str() {
                    "normal" => Durability::Normal,
                    _ => Durability::Full,
                }
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn open(durability: Durability) -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = HubSettings {
        trace_max_events: 0,
        trace_max_age_secs: 0,
        ..HubSettings::default()
    };
    let hub = Hub::open(
        HubOptions::new(dir.path().join("bench.db"))
            .durability(durability)
            .settings(settings),
    )
    .await
    .expect("open hub");
    (hub, dir)
}

async fn lifecycles(a: &Args) {
    let (hub, _dir) = open(a.durability).await;
    for d in 0..a.devices {
        hub.registry()
            .create(NewDevice::named(format!("dev{d}")))
            .await
            .expect("create");
    }
    let per_task = a.lifecycles / a.tasks;
    let written = written_bytes();
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..a.tasks {
        let hub = hub.clone();
        let devices = a.devices;
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task);
            for n in 0..per_task {
                let device = format!("dev{}", (t + n * 7919) % devices);
                let t0 = Instant::now();
                hub.mailbox()
                    .send(&device, NewMessage::text("{\"cmd\":\"on\"}"))
                    .await
                    .expect("send");
                lat.push(t0.elapsed());
                let m = hub
                    .mailbox()
                    .receive(&device)
                    .await
                    .expect("receive")
                    .expect("a message");
                hub.mailbox()
                    .complete(&device, m.lock_token.as_deref().expect("token"))
                    .await
                    .expect("complete");
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("task"));
    }
    let elapsed = start.elapsed();
    lat.sort();
    let done = per_task * a.tasks;
    let per_cycle = match (written, written_bytes()) {
        (Some(before), Some(after)) => format!(
            "{:.0} B",
            after.saturating_sub(before) as f64 / done.max(1) as f64
        ),
        _ => "unknown".into(),
    };
    println!(
        "c2d life cycles ({:?}): {done} across {} devices from {} tasks in {:.2} s = {:.0}/s; enqueue latency p50 {:.2} ms, p99 {:.2} ms; disk written per life cycle {per_cycle}",
        a.durability,
        a.devices,
        a.tasks,
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
    );
    hub.close().await.expect("close");
}

/// Bytes this process has sent to the disk so far (`write_bytes` in
/// `/proc/self/io`: the WAL and the checkpoints into the database file).
fn written_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

async fn trace_appends(a: &Args) {
    let (hub, _dir) = open(a.durability).await;
    let body = br#"{"temperature":21.5}"#;
    let detail = TraceDetail::TelemetryReceived(TelemetryReceived {
        via: "mqtt".into(),
        message_id: None,
        correlation_id: None,
        content_type: None,
        content_encoding: None,
        properties: Default::default(),
        size: body.len(),
        body: BodyPreview::of(body, 4096),
    });
    let start = Instant::now();
    for i in 0..a.events {
        // One in 10,000 is of a rare kind, for the kind queries below.
        let detail = match i % 10_000 {
            5_000 => TraceDetail::C2dCompleted(C2dCompleted {
                sequence_number: i as i64,
                attempt: 1,
            }),
            _ => detail.clone(),
        };
        let ev = NewEvent::new(format!("dev{}", i % a.trace_devices), detail);
        // One event in a thousand belongs to a story, and so does the last
        // (still pending), for the queries below.
        hub.trace().append(match (i % 1000, i + 1 == a.events) {
            (0, _) | (_, true) => ev.message(format!("m{i}")),
            _ => ev,
        });
    }
    hub.trace().flush().await.expect("flush");
    let elapsed = start.elapsed();
    println!(
        "trace appends ({:?}): {} events in {:.2} s = {:.0}/s",
        a.durability,
        a.events,
        elapsed.as_secs_f64(),
        a.events as f64 / elapsed.as_secs_f64()
    );
    trace_queries(&hub, a.events).await;
    hub.close().await.expect("close");
}

/// How long the trace's usual queries take on the log just written: a
/// story among the indexed events and one among the newest (still
/// pending) ones, the newest page, one device's newest page, the newest
/// page of a common kind, of a rare one and of one with no events.
async fn trace_queries(hub: &Hub, events: usize) {
    use hublet_core::trace::TraceQuery;
    let newest_story = events.saturating_sub(1);
    let page = |q: TraceQuery| TraceQuery {
        newest_first: true,
        limit: Some(100),
        ..q
    };
    let of_kind = |kind: &str| {
        page(TraceQuery {
            kinds: vec![kind.into()],
            ..TraceQuery::default()
        })
    };
    let cases = [
        ("story, oldest message", TraceQuery::story("m0")),
        (
            "story, newest message",
            TraceQuery::story(format!("m{newest_story}")),
        ),
        ("newest 100 events", page(TraceQuery::default())),
        (
            "newest 100 of one device",
            page(TraceQuery {
                device_id: Some("dev7".into()),
                ..TraceQuery::default()
            }),
        ),
        ("newest 100 of one kind", of_kind("telemetry.received")),
        // One event in 10,000 (`trace_appends`).
        ("newest 100 of a rare kind", of_kind("c2d.completed")),
        ("newest 100 of a kind prefix (c2d.*)", of_kind("c2d")),
        ("a kind with no events", of_kind("method.invoked")),
    ];
    for (what, q) in cases {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..21 {
            let t = Instant::now();
            found = hub.trace().query(q.clone()).await.expect("query").len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  trace query, {what}: {found} events, p50 {:.2} ms, max {:.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 1.0).as_secs_f64() * 1000.0,
        );
    }
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        lifecycles(&a).await;
        trace_appends(&a).await;
    });
}
