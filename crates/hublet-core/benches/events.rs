#![allow(missing_docs, clippy::unwrap_used)]
//! Event log benchmark: telemetry from many attached devices at once (as
//! the MQTT gateway hands it to the engine, without waiting for each
//! commit), read live by one reader over every partition, as a back end
//! on the Event Hub-compatible endpoint reads it.
//!
//! ```text
//! cargo bench -p hublet-core --bench events -- [--devices 1000] [--events 200000] [--rate 0]
//! ```
//!
//! Prints events per second stored and delivered to the reader, and the
//! latency from a device's send to the reader's receipt (p50, p99). With
//! `--rate 0` every device sends as fast as it can (throughput; latency is
//! then mostly queueing); with `--rate N` the devices together send N
//! events per second, evenly spread (latency at that load).
//! Results go to `docs/benchmarks.md` by hand, with the machine they ran on.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hublet_core::attach::{AttachRequest, Telemetry};
use hublet_core::events::Position;
use hublet_core::{Hub, HubOptions, NewDevice};

mod common;
use common::{arg, pct};

#[tokio::main]
async fn main() {
    let n_devices = arg("--devices", 1000);
    let total = arg("--events", 200_000);
    let per = total / n_devices;
    let rate = arg("--rate", 0);
    // Each device's gap between sends at the asked total rate.
    let gap = (rate > 0).then(|| Duration::from_secs_f64(n_devices as f64 / rate as f64));
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::open(HubOptions::new(dir.path().join("hub.db")).background_tasks(false))
        .await
        .unwrap();
    let mut atts = Vec::new();
    for i in 0..n_devices {
        let id = format!("d{i}");
        hub.registry().create(NewDevice::named(&id)).await.unwrap();
        let (att, rx) = hub
            .attach(&id, AttachRequest::trusted("bench", None, "bench"))
            .await
            .unwrap();
        atts.push((att, rx));
    }
    let start = Instant::now();
    let mut reader = hub
        .events()
        .reader(&[], Position::Latest, BTreeSet::new())
        .await
        .unwrap();
    let expected = per * n_devices;
    let read = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(expected);
        let mut got = 0;
        while got < expected {
            let batch = reader.next_batch(1000).await.unwrap().unwrap();
            let now = start.elapsed().as_micros() as f64;
            for e in &batch {
                let sent: f64 = std::str::from_utf8(&e.body).unwrap().parse().unwrap();
                latencies.push((now - sent) / 1000.0);
            }
            got += batch.len();
        }
        (start.elapsed(), latencies)
    });
    let t0 = Instant::now();
    let tasks: Vec<_> = atts
        .into_iter()
        .map(|(att, _rx)| {
            tokio::spawn(async move {
                let mut last = None;
                let mut tick = gap.map(|g| {
                    let mut i = tokio::time::interval(g);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    i
                });
                for _ in 0..per {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let t = Telemetry {
                        body: start.elapsed().as_micros().to_string().into_bytes(),
                        ..Telemetry::default()
                    };
                    last = Some(att.telemetry(t).unwrap());
                    tokio::task::yield_now().await;
                }
                if let Some(l) = last {
                    l.committed().await.unwrap();
                }
                drop(_rx);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stored = t0.elapsed();
    let (read_at, mut lat) = tokio::time::timeout(Duration::from_secs(600), read)
        .await
        .unwrap()
        .unwrap();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{expected} events from {n_devices} devices at {}: stored {:.0}/s ({:.2} s); delivered to one reader {:.0}/s; latency send->reader p50 {:.1} ms, p99 {:.1} ms",
        if rate == 0 {
            "full speed".to_string()
        } else {
            format!("{rate}/s")
        },
        expected as f64 / stored.as_secs_f64(),
        stored.as_secs_f64(),
        expected as f64 / (read_at - (t0 - start)).as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    hub.close().await.unwrap();
}
