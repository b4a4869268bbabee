//! Gateway benchmarks on loopback (plain TCP listener).
//!
//! ```text
//! cargo bench -p hublet-mqtt --bench gateway -- c2d [--devices 100] [--messages 50000]
//! cargo bench -p hublet-mqtt --bench gateway -- methods [--calls 20000]
//! cargo bench -p hublet-mqtt --bench gateway -- idle [--devices 10000]
//! ```
//!
//! `idle` runs the devices in a child process so the hub's memory is
//! measured alone (VmRSS of the hub process).
#![allow(missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use hublet_core::auth::sas;
use hublet_core::{Hub, HubOptions, HubSettings, MethodCall, NewDevice, NewMessage};
use hublet_mqtt::{Gateway, GatewayConfig};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Codec, Connect, Login, Packet, PubAck, Publish, Subscribe};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

fn arg(name: &str, default: usize) -> usize {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn mode() -> String {
    std::env::args()
        .skip(1)
        .find(|a| ["c2d", "methods", "idle", "idle-clients"].contains(&a.as_str()))
        .unwrap_or_else(|| "all".into())
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

struct Setup {
    hub: Hub,
    gw: Gateway,
    _dir: tempfile::TempDir,
}

async fn setup(devices: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let settings = HubSettings {
        trace_max_events: 0,
        trace_max_age_secs: 0,
        ..HubSettings::default()
    };
    let hub = Hub::open(HubOptions::new(dir.path().join("bench.db")).settings(settings))
        .await
        .unwrap();
    let mut creates = Vec::new();
    for d in 0..devices {
        let hub = hub.clone();
        creates.push(tokio::spawn(async move {
            hub.registry()
                .create(NewDevice::named(format!("dev{d}")))
                .await
                .unwrap()
        }));
    }
    for c in creates {
        c.await.unwrap();
    }
    let config = GatewayConfig {
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..GatewayConfig::default()
    };
    let gw = Gateway::start(hub.clone(), config).await.unwrap();
    Setup { hub, gw, _dir: dir }
}

type Conn = Framed<TcpStream, Codec>;

async fn connect(addr: SocketAddr, id: &str, key: &str, filters: &[&str]) -> Conn {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut f = Framed::new(
        s,
        Codec {
            max_incoming_size: 1 << 20,
            max_outgoing_size: 1 << 20,
        },
    );
    let se = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 7200;
    let token = sas::create(&format!("localhost/devices/{id}"), key, None, se).unwrap();
    let mut c = Connect::new(id);
    c.keep_alive = 1000;
    c.login = Some(Login::new(
        format!("localhost/{id}/?api-version=2021-04-12"),
        token,
    ));
    f.send(Packet::Connect(c)).await.unwrap();
    match f.next().await {
        Some(Ok(Packet::ConnAck(a)))
            if a.code == rumqttc::mqttbytes::v4::ConnectReturnCode::Success => {}
        other => panic!("connect failed: {other:?}"),
    }
    if !filters.is_empty() {
        let mut s = Subscribe::new(filters[0], QoS::AtLeastOnce);
        for t in &filters[1..] {
            s.add(t.to_string(), QoS::AtLeastOnce);
        }
        s.pkid = 1;
        f.send(Packet::Subscribe(s)).await.unwrap();
        loop {
            if let Some(Ok(Packet::SubAck(_))) = f.next().await {
                break;
            }
        }
    }
    f
}

async fn keys(hub: &Hub, n: usize) -> Vec<String> {
    let all = hub
        .registry()
        .list(hublet_core::registry::DeviceQuery {
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut by_id: std::collections::HashMap<String, String> = all
        .into_iter()
        .map(|d| (d.device_id, d.primary_key))
        .collect();
    (0..n)
        .map(|d| by_id.remove(&format!("dev{d}")).unwrap())
        .collect()
}

async fn c2d() {
    let devices = arg("--devices", 100);
    let messages = arg("--messages", 50_000);
    let s = setup(devices).await;
    let addr = s.gw.tcp_addr().unwrap();
    let keys = keys(&s.hub, devices).await;
    let received = Arc::new(AtomicU64::new(0));
    let per_device = messages / devices;
    let mut clients = Vec::new();
    for (d, key) in keys.iter().enumerate() {
        let id = format!("dev{d}");
        let filter = format!("devices/{id}/messages/devicebound/#");
        let mut conn = connect(addr, &id, key, &[&filter]).await;
        let received = received.clone();
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while n < per_device {
                match conn.next().await {
                    Some(Ok(Packet::Publish(p))) => {
                        conn.send(Packet::PubAck(PubAck::new(p.pkid)))
                            .await
                            .unwrap();
                        n += 1;
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Ok(_)) => {}
                    other => panic!("device connection ended: {other:?}"),
                }
            }
            conn
        }));
    }
    let start = Instant::now();
    let mut senders = Vec::new();
    for d in 0..devices {
        let hub = s.hub.clone();
        senders.push(tokio::spawn(async move {
            let id = format!("dev{d}");
            let mut sent = 0;
            while sent < per_device {
                match hub
                    .mailbox()
                    .send(&id, NewMessage::text("{\"cmd\":\"toggle\"}"))
                    .await
                {
                    Ok(_) => sent += 1,
                    Err(e) if e.code().number() == 403004 => {
                        tokio::time::sleep(Duration::from_millis(2)).await
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in senders {
        t.await.unwrap();
    }
    let mut conns = Vec::new();
    for c in clients {
        conns.push(c.await.unwrap());
    }
    // Wait until every completion is committed.
    loop {
        if s.hub.stats().await.unwrap().queued_messages == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let total = per_device * devices;
    println!(
        "c2d over MQTT QoS 1: {total} messages to {devices} devices enqueued, delivered and completed in {:.2} s = {:.0}/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    drop(conns);
    s.gw.shutdown().await;
    s.hub.close().await.unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn methods() {
    let calls = arg("--calls", 20_000);
    for (callers, pace_ms) in [(1usize, 0u64), (100, 0), (100, 10)] {
        let devices = callers.min(100);
        let s = setup(devices).await;
        let addr = s.gw.tcp_addr().unwrap();
        let keys = keys(&s.hub, devices).await;
        for (d, key) in keys.iter().enumerate() {
            let mut conn =
                connect(addr, &format!("dev{d}"), key, &["$iothub/methods/POST/#"]).await;
            tokio::spawn(async move {
                while let Some(Ok(p)) = conn.next().await {
                    if let Packet::Publish(p) = p {
                        let rid = p
                            .topic
                            .rsplit("$rid=")
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        let r = Publish::new(
                            format!("$iothub/methods/res/200/?$rid={rid}"),
                            QoS::AtMostOnce,
                            b"{\"ok\":true}".to_vec(),
                        );
                        if conn.send(Packet::Publish(r)).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
        let per_caller = calls / callers;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..callers {
            let hub = s.hub.clone();
            tasks.push(tokio::spawn(async move {
                let device = format!("dev{}", c % devices);
                let mut lat = Vec::with_capacity(per_caller);
                // Callers are spread evenly over the period, as independent clients would be.
                let offset = Duration::from_micros(pace_ms * 1000 * c as u64 / callers as u64);
                let mut tick = (pace_ms > 0).then(|| {
                    let start = tokio::time::Instant::now() + offset;
                    let mut i = tokio::time::interval_at(start, Duration::from_millis(pace_ms));
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    i
                });
                for _ in 0..per_caller {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let t0 = Instant::now();
                    hub.methods()
                        .invoke(
                            &device,
                            MethodCall::new("ping", serde_json::json!({"x": 1})),
                        )
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
        let elapsed = start.elapsed();
        lat.sort();
        let how = if pace_ms > 0 {
            format!("each calling every {pace_ms} ms")
        } else {
            "back to back".to_string()
        };
        println!(
            "method round trip, {callers} concurrent caller(s) {how}: {} calls in {:.2} s ({:.0}/s); p50 {:.3} ms, p99 {:.3} ms",
            lat.len(),
            elapsed.as_secs_f64(),
            lat.len() as f64 / elapsed.as_secs_f64(),
            percentile(&lat, 0.5).as_secs_f64() * 1000.0,
            percentile(&lat, 0.99).as_secs_f64() * 1000.0
        );
        s.gw.shutdown().await;
        s.hub.close().await.unwrap();
    }
}

/// Child process: connects `--devices` idle devices to `--port` and waits.
async fn idle_clients() {
    let n = arg("--devices", 10_000);
    let port = arg("--port", 1883) as u16;
    let first = arg("--first", 0);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let keys: Vec<String> = std::io::stdin()
        .lines()
        .take(n)
        .map(|l| l.unwrap())
        .collect();
    let mut conns = Vec::with_capacity(n);
    for (i, key) in keys.iter().enumerate() {
        conns.push(
            connect(
                addr,
                &format!("dev{}", first + i),
                key,
                &[
                    "$iothub/methods/POST/#",
                    &format!("devices/dev{}/messages/devicebound/#", first + i),
                ],
            )
            .await,
        );
    }
    println!("CONNECTED {}", conns.len());
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

async fn idle() {
    let devices = arg("--devices", 10_000);
    let s = setup(devices).await;
    let before = rss_mb();
    let keys = keys(&s.hub, devices).await;
    let port = s.gw.tcp_addr().unwrap().port();
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args([
            "idle-clients",
            "--devices",
            &devices.to_string(),
            "--port",
            &port.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(keys.join("\n").as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
    }
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
        .await
        .unwrap();
    let connected_in = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = s.hub.stats().await.unwrap();
    println!(
        "idle devices: {} connected (and subscribed) in {:.2} s; hub RSS {:.0} MB before, {:.0} MB with them ({:.1} KB per device)",
        stats.connected,
        connected_in.as_secs_f64(),
        before,
        rss_mb(),
        (rss_mb() - before) * 1024.0 / devices as f64
    );
    child.kill().await.unwrap();
}

fn main() {
    let _ = rlimit::increase_nofile_limit(1 << 20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match mode().as_str() {
            "c2d" => c2d().await,
            "methods" => methods().await,
            "idle" => idle().await,
            "idle-clients" => idle_clients().await,
            _ => {
                c2d().await;
                methods().await;
                idle().await;
            }
        }
    });
}
