//! Device telemetry read through the Event Hub-compatible endpoint by a real
//! AMQP reader, as a back end reads IoT Hub.
//!
//! ```text
//! cargo bench -p hublet-amqp --bench eventhub -- [--devices 1000] [--events 200000] [--rate 0] [--idle 0]
//! ```
//!
//! One hub in this process (full durability). `--devices` attached devices
//! send telemetry through the engine (as the MQTT gateway hands it over);
//! one reader (one TLS connection, a CBS put-token, a receiver link per
//! partition from `@latest`, fe2o3-amqp's client) takes every event.
//! Prints events per second stored and delivered, and the latency from a
//! device's send to the reader's receipt (p50, p99). `--rate N` spreads N
//! events per second over the devices (latency at that load); `--rate 0`
//! sends as fast as possible. `--idle N` first attaches N more readers
//! that never grant credit (spread over consumer groups, five per partition
//! and group as Event Hubs allows) and reports the process's resident
//! memory (the hub and the bench's clients together, so an upper bound for
//! the hub) before and after they attach, and after the run.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fe2o3_amqp::Receiver;
use fe2o3_amqp::link::receiver::CreditMode;
use fe2o3_amqp::types::messaging::{Body, Source};
use fe2o3_amqp::types::primitives::{OrderedMap, Symbol, Value};
use hublet_amqp::{AmqpConfig, AmqpServer};
use hublet_core::attach::{AttachRequest, Telemetry};
use hublet_core::{Hub, HubOptions, HubSettings, NewDevice};
use hublet_tls::LocalPki;

mod common;
use common::{Service, arg, connect, owner_token, pct};

/// The Event Hub's CBS audience, as the Event Hubs SDKs spell it.
const AUDIENCE: &str = "sb://localhost/localhost";

/// This process's resident set size, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn attach(r: &mut Service, name: String, address: String, credit: u32) -> Receiver {
    let mut filter = OrderedMap::new();
    filter.insert(
        Symbol::from("apache.org:selector-filter:string"),
        Value::String("amqp.annotation.x-opt-offset > '@latest'".into()),
    );
    let mut rx = Receiver::builder()
        .name(name)
        .source(Source::builder().address(address).filter(filter).build())
        .credit_mode(CreditMode::Manual)
        .attach(&mut r.session)
        .await
        .unwrap();
    if credit > 0 {
        rx.set_credit(credit).await.unwrap();
    }
    rx
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let n_devices = arg("--devices", 1000);
    let total = arg("--events", 200_000);
    let per = total / n_devices;
    let expected = per * n_devices;
    let rate = arg("--rate", 0);
    let idle = arg("--idle", 0);
    let gap = (rate > 0).then(|| Duration::from_secs_f64(n_devices as f64 / rate as f64));
    let dir = tempfile::tempdir().unwrap();
    let settings = HubSettings {
        event_max_per_partition: 10_000_000,
        ..HubSettings::default()
    };
    let hub = Hub::open(
        HubOptions::new(dir.path().join("bench.db"))
            .settings(settings)
            .background_tasks(false),
    )
    .await
    .unwrap();
    let pki = LocalPki::load_or_create(&dir.path().join("tls"), &[]).unwrap();
    let server = AmqpServer::start(
        hub.clone(),
        AmqpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            tls: pki.server_config().unwrap(),
            max_connections: 1024,
        },
    )
    .await
    .unwrap();
    let addr = server.addr().unwrap();
    let token = owner_token(&hub);
    let partitions = hub.events().partition_count();

    let mut idle_readers = Vec::new();
    if idle > 0 {
        let groups = idle.div_ceil(5 * partitions as usize);
        for g in 0..groups {
            hub.events()
                .create_consumer_group(&format!("idle{g}"))
                .await
                .unwrap();
        }
        let before = rss_kib();
        let mut n = 0;
        while n < idle {
            let mut r = connect(addr, &pki, &token, AUDIENCE).await;
            let mut links = Vec::new();
            for _ in 0..60 {
                if n == idle {
                    break;
                }
                let (g, p) = (n / (5 * partitions as usize), n % partitions as usize);
                let address = format!("localhost/ConsumerGroups/idle{g}/Partitions/{p}");
                links.push(attach(&mut r, format!("idle-{n}"), address, 0).await);
                n += 1;
            }
            idle_readers.push((r, links));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib();
        println!(
            "{idle} idle readers (never granting credit) on {} connections: hub process RSS {} -> {} KiB, {:.1} KiB per reader",
            idle_readers.len(),
            before,
            after,
            (after.saturating_sub(before)) as f64 / idle as f64
        );
    }

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

    let mut reader = connect(addr, &pki, &token, AUDIENCE).await;
    let mut links = Vec::new();
    for p in 0..partitions {
        let address = format!("localhost/ConsumerGroups/$Default/Partitions/{p}");
        links.push(attach(&mut reader, format!("reader-{p}"), address, 1000).await);
    }
    let start = Instant::now();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for mut rx in links {
        let done_tx = done_tx.clone();
        tokio::spawn(async move {
            let mut since_credit = 0;
            loop {
                let Ok(d) = rx.recv::<Body<Value>>().await else {
                    return;
                };
                let now = start.elapsed().as_micros() as f64;
                let sent: f64 = match &d.message().body {
                    Body::Data(data) => data
                        .iter()
                        .next()
                        .and_then(|x| std::str::from_utf8(&x.0).ok())
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(now),
                    _ => now,
                };
                if done_tx.send((now - sent) / 1000.0).is_err() {
                    return;
                }
                // Credit renewed as a consumer client renews its prefetch.
                since_credit += 1;
                if since_credit == 500 {
                    since_credit = 0;
                    let _ = rx.set_credit(1000).await;
                }
            }
        });
    }
    drop(done_tx);
    let read = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(expected);
        while latencies.len() < expected {
            match done_rx.recv().await {
                Some(l) => latencies.push(l),
                None => break,
            }
        }
        (start.elapsed(), latencies)
    });

    let t0 = Instant::now();
    let tasks: Vec<_> = atts
        .into_iter()
        .map(|(att, rx)| {
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
                drop(rx);
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
    assert_eq!(lat.len(), expected, "every event reaches the reader");
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{expected} events from {n_devices} devices at {}, read over AMQP (TLS, one link per partition){}: stored {:.0}/s ({:.2} s); delivered to the reader {:.0}/s; latency send->reader p50 {:.1} ms, p99 {:.1} ms",
        if rate == 0 {
            "full speed".to_string()
        } else {
            format!("{rate}/s")
        },
        if idle > 0 {
            format!(", {idle} idle readers attached")
        } else {
            String::new()
        },
        expected as f64 / stored.as_secs_f64(),
        stored.as_secs_f64(),
        expected as f64 / (read_at - (t0 - start)).as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    println!("RSS after the run: {} KiB", rss_kib());
    drop(idle_readers);
    server.shutdown().await;
    hub.close().await.unwrap();
}
