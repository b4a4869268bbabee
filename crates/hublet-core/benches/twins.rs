#![allow(missing_docs, clippy::unwrap_used)]
//! Twin benchmarks: reported-property patches from many devices at once
//! (through the engine's writer, as the MQTT gateway sends them), and
//! queries over many devices' twins.
//!
//! ```text
//! cargo bench -p hublet-core --bench twins -- [--devices 1000] [--patches 100000]
//!     [--query-devices 10000] [--queries 50]
//! ```
//!
//! Results go to `docs/benchmarks.md` by hand, with the machine they ran on.

use std::time::Instant;

use hublet_core::twin::{TwinOp, TwinWrite};
use hublet_core::{Hub, HubOptions, NewDevice};
use serde_json::json;

mod common;
use common::{arg, pct};

async fn open(dir: &std::path::Path) -> Hub {
    Hub::open(HubOptions::new(dir.join("hub.db")).background_tasks(false))
        .await
        .unwrap()
}

async fn devices(hub: &Hub, prefix: &str, n: usize) {
    for i in 0..n {
        hub.registry()
            .create(NewDevice::named(format!("{prefix}{i}")))
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let n_devices = arg("--devices", 1000);
    let patches = arg("--patches", 100_000);
    let query_devices = arg("--query-devices", 10_000);
    let queries = arg("--queries", 50);

    // Reported patches: one task per device, each sending its share in turn.
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path()).await;
    devices(&hub, "r", n_devices).await;
    let per = patches / n_devices;
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n_devices)
        .map(|d| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let id = format!("r{d}");
                for i in 0..per {
                    hub.twins()
                        .report(
                            &id,
                            json!({"temperature": 20.0 + (i % 50) as f64 / 10.0, "seq": i}),
                            "bench",
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "reported patches: {} from {n_devices} devices in {secs:.2} s = {:.0} patches/s (each committed before it is acknowledged)",
        per * n_devices,
        (per * n_devices) as f64 / secs
    );
    hub.close().await.unwrap();
    drop(hub);

    // Queries over many twins, half of them tagged.
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path()).await;
    devices(&hub, "q", query_devices).await;
    for i in (0..query_devices).step_by(2) {
        hub.twins()
            .write(
                &format!("q{i}"),
                TwinOp::Patch,
                TwinWrite {
                    tags: serde_json::from_value(
                        json!({"building": (i % 10).to_string(), "floor": i % 7}),
                    )
                    .ok(),
                    desired: serde_json::from_value(json!({"setpoint": 21})).ok(),
                },
                None,
            )
            .await
            .unwrap();
    }
    for (label, q) in [
        (
            "SELECT * WHERE tag (100 rows/page)",
            "SELECT * FROM devices WHERE tags.building = '4' AND tags.floor > 2",
        ),
        (
            "COUNT() GROUP BY tag",
            "SELECT tags.building AS b, COUNT() AS n FROM devices GROUP BY tags.building",
        ),
    ] {
        let mut ms = Vec::with_capacity(queries);
        for _ in 0..queries {
            let t = Instant::now();
            let page = hub.twins().query(q, Some(100), None).await.unwrap();
            assert!(!page.items.is_empty());
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "query over {query_devices} twins, {label}: p50 {:.1} ms, p99 {:.1} ms ({queries} runs)",
            pct(&ms, 0.5),
            pct(&ms, 0.99)
        );
    }
    hub.close().await.unwrap();
}
