//! C2D sends over one AMQP connection, side by side with the REST send.
//!
//! ```text
//! cargo bench -p hublet-amqp --bench c2d -- [--messages 20000] [--devices 100] [--window 100]
//! ```
//!
//! One hub in this process (full durability), its MQTT gateway with
//! `--devices` connected MQTT devices (rumqttc) completing every message,
//! and its AMQP endpoint over TLS. One AMQP connection (CBS put-token, one
//! sender link) keeps `--window` deliveries in flight; each delivery's time
//! from send to `accepted` is recorded. Then the same number of messages
//! goes through the REST API with the same number of requests in flight.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fe2o3_amqp::Sender;
use fe2o3_amqp::types::messaging::{Body, Data, Message, Outcome, Properties};
use fe2o3_amqp::types::primitives::{Binary, Value};
use hublet_amqp::{AmqpConfig, AmqpServer};
use hublet_core::auth::sas;
use hublet_core::{Hub, HubOptions, HubSettings, NewDevice};
use hublet_tls::LocalPki;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

mod common;
use common::{arg, connect, owner_token, pct, sorted_ms};

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let messages = arg("--messages", 20_000);
    let devices = arg("--devices", 100);
    let window = arg("--window", 100);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(messages, devices, window));
}

async fn run(messages: usize, devices: usize, window: usize) {
    let dir = tempfile::tempdir().unwrap();
    let settings = HubSettings {
        trace_max_events: 0,
        trace_max_age_secs: 0,
        ..HubSettings::default()
    };
    let hub = Hub::open(HubOptions::new(dir.path().join("bench.db")).settings(settings))
        .await
        .unwrap();
    let gw = hublet_mqtt::Gateway::start(
        hub.clone(),
        hublet_mqtt::GatewayConfig {
            tcp: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mqtt = gw.tcp_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let se = hub.now().unix_seconds() + 7200;
    for d in 0..devices {
        let id = format!("dev{d}");
        let key = hub
            .registry()
            .create(NewDevice::named(&id))
            .await
            .unwrap()
            .primary_key;
        let token = sas::create(&format!("localhost/devices/{id}"), &key, None, se).unwrap();
        let mut o = MqttOptions::new(&id, "127.0.0.1", mqtt.port());
        o.set_credentials(format!("localhost/{id}/?api-version=2021-04-12"), token);
        o.set_keep_alive(Duration::from_secs(60));
        let (client, mut events) = AsyncClient::new(o, 256);
        let received = received.clone();
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client
                            .subscribe(
                                format!("devices/{id}/messages/devicebound/#"),
                                QoS::AtLeastOnce,
                            )
                            .await;
                    }
                    Ok(Event::Incoming(Packet::Publish(_))) => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let pki = LocalPki::load_or_create(&dir.path().join("tls"), &[]).unwrap();
    let amqp = AmqpServer::start(
        hub.clone(),
        AmqpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            tls: pki.server_config().unwrap(),
            max_connections: 16,
        },
    )
    .await
    .unwrap();
    let token = owner_token(&hub);
    let common::Service {
        conn: _conn,
        mut session,
    } = connect(amqp.addr().unwrap(), &pki, &token, "https://localhost").await;
    let mut tx = Sender::attach(&mut session, "bench", "/messages/devicebound")
        .await
        .unwrap();

    let started = Instant::now();
    let mut latencies = Vec::with_capacity(messages);
    let mut in_flight = VecDeque::new();
    for i in 0..messages {
        let m = Message::builder()
            .properties(Properties {
                to: Some(format!("/devices/dev{}/messages/devicebound", i % devices)),
                message_id: Some(format!("a{i}").into()),
                ..Default::default()
            })
            .body(Body::<Value>::Data(
                vec![Data(Binary::from(b"{\"setpoint\":21}".to_vec()))].into(),
            ))
            .build();
        let t = Instant::now();
        in_flight.push_back((t, tx.send_batchable(m).await.unwrap()));
        if in_flight.len() >= window {
            let (t, fut) = in_flight.pop_front().unwrap();
            assert!(matches!(fut.await.unwrap(), Outcome::Accepted(_)));
            latencies.push(t.elapsed());
        }
    }
    while let Some((t, fut)) = in_flight.pop_front() {
        assert!(matches!(fut.await.unwrap(), Outcome::Accepted(_)));
        latencies.push(t.elapsed());
    }
    let amqp_secs = started.elapsed().as_secs_f64();
    let latencies = sorted_ms(&latencies);
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.load(Ordering::Relaxed) < messages as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "AMQP: {messages} sends to {devices} MQTT devices, {window} in flight on one link: {:.0} sends/s; time to accepted p50 {:.2} ms, p99 {:.2} ms; delivered {}",
        messages as f64 / amqp_secs,
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        received.load(Ordering::Relaxed)
    );

    // The same through the REST API, the same number in flight.
    let state = hublet_api::AppState::new(
        hub.clone(),
        "bench-token".into(),
        hublet_api::SecurityConfig::default(),
        hublet_api::ServerFacts::default(),
    );
    let api = hublet_api::ApiServer::start(
        state,
        Some("127.0.0.1:0".parse().unwrap()),
        None,
        hublet_api::Limits::default(),
    )
    .await
    .unwrap();
    let url = format!("http://{}", api.http_addr().unwrap());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(window)
        .build()
        .unwrap();
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..window {
        let (http, url, next) = (http.clone(), url.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= messages {
                    return lat;
                }
                let t = Instant::now();
                let r = http
                    .post(format!("{url}/api/devices/dev{}/messages", i % devices))
                    .bearer_auth("bench-token")
                    .json(&serde_json::json!({"body": "{\"setpoint\":21}", "messageId": format!("r{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                lat.push(t.elapsed());
            }
        }));
    }
    let mut rest_lat = Vec::new();
    for w in workers {
        rest_lat.extend(w.await.unwrap());
    }
    let rest_secs = started.elapsed().as_secs_f64();
    let rest_lat = sorted_ms(&rest_lat);
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.load(Ordering::Relaxed) < before + messages as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "REST: {messages} sends, {window} requests in flight: {:.0} sends/s; time to 201 p50 {:.2} ms, p99 {:.2} ms",
        messages as f64 / rest_secs,
        pct(&rest_lat, 0.5),
        pct(&rest_lat, 0.99),
    );
    println!("AMQP / REST throughput: {:.2}", rest_secs / amqp_secs);
}
