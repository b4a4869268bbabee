//! REST API benchmark: C2D sends through `POST /api/devices/{id}/messages`
//! from concurrent HTTP clients, and the same sends straight into the engine,
//! to show what the API adds.
//!
//! ```text
//! cargo bench -p hublet-api --bench api -- [--clients 8] [--sends 40000] [--devices 1000]
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use hublet_api::{ApiServer, AppState, SecurityConfig, ServerFacts};
use hublet_core::{Hub, HubOptions, HubSettings, NewDevice, NewMessage};

fn arg(name: &str, default: usize) -> usize {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

async fn hub(devices: usize) -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = HubSettings {
        trace_max_events: 0,
        trace_max_age_secs: 0,
        ..HubSettings::default()
    };
    let hub = Hub::open(HubOptions::new(dir.path().join("b.db")).settings(s))
        .await
        .unwrap();
    let mut t = Vec::new();
    for d in 0..devices {
        let hub = hub.clone();
        t.push(tokio::spawn(async move {
            hub.registry()
                .create(NewDevice::named(format!("dev{d}")))
                .await
                .unwrap()
        }));
    }
    for x in t {
        x.await.unwrap();
    }
    (hub, dir)
}

fn report(what: &str, n: usize, elapsed: Duration, mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort();
    let (p50, p99) = (pct(&lat, 0.5), pct(&lat, 0.99));
    println!(
        "{what}: {n} sends in {:.2} s = {:.0}/s; latency p50 {p50:.3} ms, p99 {p99:.3} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    (p50, p99)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let clients = arg("--clients", 8);
    let sends = arg("--sends", 40_000);
    let devices = arg("--devices", 1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Through the REST API.
        let (h, _d) = hub(devices).await;
        let state = AppState::new(
            h.clone(),
            "bench".into(),
            SecurityConfig::default(),
            ServerFacts::default(),
        );
        let server = ApiServer::start(
            state,
            Some("127.0.0.1:0".parse().unwrap()),
            None,
            hublet_api::Limits::default(),
        )
        .await
        .unwrap();
        let base = format!("http://{}", server.http_addr().unwrap());
        let per = sends / clients;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let base = base.clone();
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut lat = Vec::with_capacity(per);
                for n in 0..per {
                    let dev = (c * per + n) % devices;
                    let t0 = Instant::now();
                    let r = http
                        .post(format!("{base}/api/devices/dev{dev}/messages"))
                        .bearer_auth("bench")
                        .json(&serde_json::json!({"body": "{\"cmd\":\"on\"}", "ack": "none"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
                    lat.push(t0.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.unwrap());
        }
        let api = report(
            &format!("REST API, {clients} concurrent HTTP clients"),
            per * clients,
            start.elapsed(),
            lat,
        );
        server.shutdown().await;
        h.close().await.unwrap();

        // Straight into the engine, same concurrency.
        let (h, _d2) = hub(devices).await;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for n in 0..per {
                    let dev = (c * per + n) % devices;
                    let t0 = Instant::now();
                    h.mailbox()
                        .send(&format!("dev{dev}"), NewMessage::text("{\"cmd\":\"on\"}"))
                        .await
                        .unwrap();
                    lat.push(t0.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.unwrap());
        }
        let engine = report(
            &format!("engine directly, {clients} concurrent tasks"),
            per * clients,
            start.elapsed(),
            lat,
        );
        println!(
            "added by the API: p50 {:.3} ms, p99 {:.3} ms",
            api.0 - engine.0,
            api.1 - engine.1
        );
        h.close().await.unwrap();
    });
}
