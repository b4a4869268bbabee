//! Endurance: the real `hublet serve` under load, killed with SIGKILL again
//! and again, checked for lost messages, and watched for memory and
//! descriptor growth.
//!
//! ```text
//! cargo bench -p hublet --bench endurance -- crash [--rounds 100] [--devices 50] [--senders 8]
//! cargo bench -p hublet --bench endurance -- soak [--minutes 60] [--devices 1000] [--kill-every 600]
//! ```
//!
//! Both modes run the hub as a child process on loopback and, in this
//! process, MQTT devices (rumqttc, SAS tokens) that receive C2D messages and
//! complete them with PUBACK, REST senders that record every message the hub
//! acknowledged (201), and AMQP senders (fe2o3-amqp, as the service SDKs:
//! TLS, CBS put-token, a link to `/messages/devicebound`) that record every
//! message the hub accepted. At the end the senders stop, the hub runs
//! undisturbed, and every acknowledged message must reach a device at least
//! once: an acknowledged message that never arrives is **lost**. Duplicates
//! (a message delivered again because the hub died before its PUBACK was
//! stored) are allowed and counted.
//!
//! - `crash`: each round lets the hub run 0.5 to 3 s, then kills it.
//! - `soak`: devices also disconnect and reconnect every 30 to 90 s and send
//!   telemetry every 10 s; the hub is killed every `--kill-every` seconds;
//!   the hub's memory (VmRSS) and open descriptors are sampled every 10 s
//!   and printed, one line each.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hublet_core::auth::sas;
use rand::Rng;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

mod common;
use common::{arg, free_port};

/// The hub under test: a `hublet serve` child process.
struct HubProcess {
    dir: PathBuf,
    mqtt: u16,
    api: u16,
    amqp: u16,
    child: Option<Child>,
    starts: u32,
}

impl HubProcess {
    fn start(&mut self) -> Duration {
        let t = Instant::now();
        let args: Vec<String> = [
            "--mqtts",
            "off",
            "--https",
            "off",
            "--amqps",
            &format!("127.0.0.1:{}", self.amqp),
            "--mqtt",
            &format!("127.0.0.1:{}", self.mqtt),
            "--api",
            &format!("127.0.0.1:{}", self.api),
        ]
        .map(String::from)
        .to_vec();
        let child = common::serve(&self.dir, &args, None);
        self.child = Some(child);
        self.starts += 1;
        t.elapsed()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("api-token"))
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the load saw.
#[derive(Default)]
struct Ledger {
    acked: Mutex<HashSet<String>>,
    received: Mutex<HashSet<String>>,
    deliveries: AtomicU64,
    refused: AtomicU64,
    telemetry: AtomicU64,
    connects: AtomicU64,
}

impl Ledger {
    fn lost(&self) -> Vec<String> {
        let acked = self.acked.lock().unwrap();
        let received = self.received.lock().unwrap();
        acked.difference(&received).cloned().collect()
    }
}

struct Load {
    api: String,
    token: String,
    mqtt: u16,
    amqp: u16,
    dir: PathBuf,
    stop_senders: AtomicBool,
    ledger: Ledger,
    soak: bool,
}

async fn create_devices(load: &Load, n: u64) -> Vec<(String, String)> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for i in 0..n {
        let id = format!("e{i}");
        let v: serde_json::Value = http
            .post(format!("{}/api/devices", load.api))
            .bearer_auth(&load.token)
            .json(&serde_json::json!({ "deviceId": id }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = v["authentication"]["symmetricKey"]["primaryKey"].as_str();
        out.push((id, key.unwrap().to_string()));
    }
    out
}

/// One device: connects, completes every C2D message (PUBACK), and in soak
/// mode sends telemetry and reconnects now and then.
async fn device(load: Arc<Load>, id: String, key: String) {
    let token = sas::create(
        &format!("localhost/devices/{id}"),
        &key,
        None,
        4_102_444_800,
    )
    .unwrap();
    loop {
        let mut o = MqttOptions::new(&id, "127.0.0.1", load.mqtt);
        o.set_credentials(format!("localhost/{id}/?api-version=2021-04-12"), &token);
        o.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = AsyncClient::new(o, 64);
        let life = if load.soak {
            Duration::from_secs(rand::rng().random_range(30..90))
        } else {
            Duration::from_secs(1_000_000)
        };
        let end = tokio::time::Instant::now() + life;
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                e = events.poll() => match e {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        load.ledger.connects.fetch_add(1, Ordering::Relaxed);
                        let _ = client
                            .subscribe(format!("devices/{id}/messages/devicebound/#"), QoS::AtLeastOnce)
                            .await;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let bag = p.topic.rsplit_once("devicebound/").map(|(_, b)| b).unwrap_or("");
                        let mid = hublet_core::property_bag::decode(bag)
                            .into_iter()
                            .find(|(k, _)| k == "$.mid")
                            .and_then(|(_, v)| v);
                        if let Some(mid) = mid {
                            load.ledger.received.lock().unwrap().insert(mid);
                            load.ledger.deliveries.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                },
                _ = tick.tick(), if load.soak => {
                    if client
                        .try_publish(format!("devices/{id}/messages/events/"), QoS::AtLeastOnce, false, "{\"t\":21}")
                        .is_ok()
                    {
                        load.ledger.telemetry.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ = tokio::time::sleep_until(end) => {
                    let _ = client.disconnect().await;
                    break;
                }
            }
        }
    }
}

/// One REST sender: sends to the devices in turn and records every message
/// the hub acknowledged.
async fn sender(load: Arc<Load>, n: u64, devices: u64) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut i = 0u64;
    while !load.stop_senders.load(Ordering::Relaxed) {
        let device = format!("e{}", (i + n) % devices);
        let mid = format!("s{n}-{i}");
        i += 1;
        let r = http
            .post(format!("{}/api/devices/{device}/messages", load.api))
            .bearer_auth(&load.token)
            .json(&serde_json::json!({ "body": "endurance", "messageId": mid }))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                load.ledger.acked.lock().unwrap().insert(mid);
            }
            Ok(_) => {
                load.ledger.refused.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// One AMQP sender: a connection as the service SDKs open one, a window of
/// deliveries in flight, reconnecting whenever the hub goes away.
async fn amqp_sender(load: Arc<Load>, n: u64, devices: u64) {
    let mut i = 0u64;
    while !load.stop_senders.load(Ordering::Relaxed) {
        // A kill ends the session with an error; wait a moment and dial again.
        if amqp_session(&load, n, devices, &mut i).await.is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn amqp_session(load: &Load, n: u64, devices: u64, i: &mut u64) -> Result<(), String> {
    use fe2o3_amqp::types::messaging::{Message, Outcome, Properties};
    let e = |e: &dyn std::fmt::Display| e.to_string();
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let ca =
        CertificateDer::from_pem_file(load.dir.join("tls").join("ca.pem")).map_err(|x| e(&x))?;
    roots.add(ca).map_err(|x| e(&x))?;
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", load.amqp))
        .await
        .map_err(|x| e(&x))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").map_err(|x| e(&x))?,
            tcp,
        )
        .await
        .map_err(|x| e(&x))?;
    let mut conn = fe2o3_amqp::Connection::builder()
        .container_id(format!("endurance-{n}"))
        .hostname("localhost")
        .open_with_stream(tls)
        .await
        .map_err(|x| e(&x))?;
    let mut session = fe2o3_amqp::Session::begin(&mut conn)
        .await
        .map_err(|x| e(&x))?;
    let key = {
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/connection-string/service", load.api))
            .bearer_auth(&load.token)
            .send()
            .await
            .map_err(|x| e(&x))?
            .json()
            .await
            .map_err(|x| e(&x))?;
        let cs = v["connectionString"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        cs.split(';')
            .find_map(|kv| kv.strip_prefix("SharedAccessKey="))
            .unwrap_or_default()
            .to_string()
    };
    let token =
        sas::create("localhost", &key, Some("iothubowner"), 4_102_444_800).map_err(|x| e(&x))?;
    let mut cbs = fe2o3_amqp_cbs::client::CbsClient::attach(&mut session)
        .await
        .map_err(|x| e(&x))?;
    // fe2o3's CBS client expects Service Bus's 202; IoT Hub answers 200.
    let _ = cbs
        .put_token(
            "https://localhost",
            fe2o3_amqp_cbs::token::CbsToken::new(token, "servicebus.windows.net:sastoken", None),
        )
        .await;
    let mut tx = fe2o3_amqp::Sender::attach(&mut session, format!("e{n}"), "/messages/devicebound")
        .await
        .map_err(|x| e(&x))?;
    let mut window = std::collections::VecDeque::new();
    while !load.stop_senders.load(Ordering::Relaxed) {
        let mid = format!("a{n}-{i}");
        let m = Message::builder()
            .properties(Properties {
                to: Some(format!(
                    "/devices/e{}/messages/devicebound",
                    (*i + n) % devices
                )),
                message_id: Some(mid.clone().into()),
                ..Default::default()
            })
            .value("endurance")
            .build();
        *i += 1;
        window.push_back((mid, tx.send_batchable(m).await.map_err(|x| e(&x))?));
        if window.len() >= 20 {
            let (mid, fut) = window.pop_front().ok_or("empty")?;
            match fut.await.map_err(|x| e(&x))? {
                Outcome::Accepted(_) => {
                    load.ledger.acked.lock().unwrap().insert(mid);
                }
                _ => {
                    load.ledger.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    while let Some((mid, fut)) = window.pop_front() {
        if let Ok(Outcome::Accepted(_)) = fut.await {
            load.ledger.acked.lock().unwrap().insert(mid);
        }
    }
    let _ = conn.close().await;
    Ok(())
}

fn proc_status(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn db_mb(dir: &Path) -> f64 {
    ["hublet.db", "hublet.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len() as f64 / 1e6)
        .sum()
}

/// Stops the senders and waits until every acknowledged message arrived (or
/// `limit` passes); returns how long it took.
async fn drain(load: &Load, limit: Duration) -> Duration {
    load.stop_senders.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    while t.elapsed() < limit && !load.ledger.lost().is_empty() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.elapsed()
}

fn main() {
    let mode = std::env::args()
        .skip(1)
        .find(|a| a == "crash" || a == "soak")
        .unwrap_or_else(|| "crash".into());
    let soak = mode == "soak";
    let _ = rustls::crypto::ring::default_provider().install_default();
    let devices = arg("--devices", if soak { 1000 } else { 50 });
    let senders = arg("--senders", 8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess {
        dir: dir.path().to_path_buf(),
        mqtt: free_port(),
        api: free_port(),
        amqp: free_port(),
        child: None,
        starts: 0,
    };
    hub.start();
    let load = Arc::new(Load {
        api: format!("http://127.0.0.1:{}", hub.api),
        token: hub.token(),
        mqtt: hub.mqtt,
        amqp: hub.amqp,
        dir: hub.dir.clone(),
        stop_senders: AtomicBool::new(false),
        ledger: Ledger::default(),
        soak,
    });
    let keys = rt.block_on(create_devices(&load, devices));
    for (id, key) in keys {
        rt.spawn(device(load.clone(), id, key));
    }
    for n in 0..senders {
        rt.spawn(sender(load.clone(), n, devices));
    }
    for n in 0..arg("--amqp-senders", 2) {
        rt.spawn(amqp_sender(load.clone(), 1000 + n, devices));
    }
    let started = Instant::now();
    let mut restarts = Vec::new();
    if soak {
        let minutes = arg("--minutes", 60);
        let kill_every = Duration::from_secs(arg("--kill-every", 600));
        let total = Duration::from_secs(minutes * 60);
        let mut last_kill = Instant::now();
        println!(
            "soak: {devices} devices, {senders} REST senders, {minutes} min, SIGKILL every {} s",
            kill_every.as_secs()
        );
        println!("t_s\tlife\trss_mb\tfds\tthreads\tdb_mb\tacked\tdelivered\ttelemetry\tconnects");
        while started.elapsed() < total {
            std::thread::sleep(Duration::from_secs(10));
            if let Some(pid) = hub.pid() {
                let l = &load.ledger;
                println!(
                    "{}\t{}\t{:.1}\t{}\t{}\t{:.1}\t{}\t{}\t{}\t{}",
                    started.elapsed().as_secs(),
                    hub.starts,
                    proc_status(pid, "VmRSS:") / 1024.0,
                    open_fds(pid),
                    proc_status(pid, "Threads:"),
                    db_mb(&hub.dir),
                    l.acked.lock().unwrap().len(),
                    l.deliveries.load(Ordering::Relaxed),
                    l.telemetry.load(Ordering::Relaxed),
                    l.connects.load(Ordering::Relaxed),
                );
            }
            if last_kill.elapsed() >= kill_every && started.elapsed() + kill_every / 2 < total {
                hub.kill();
                restarts.push(hub.start());
                last_kill = Instant::now();
            }
        }
    } else {
        let rounds = arg("--rounds", 100);
        println!(
            "crash: {rounds} rounds, {devices} devices completing over MQTT, {senders} REST senders, {} AMQP senders",
            arg("--amqp-senders", 2)
        );
        let mut rng = rand::rng();
        for round in 1..=rounds {
            std::thread::sleep(Duration::from_millis(rng.random_range(500..3000)));
            hub.kill();
            restarts.push(hub.start());
            if round % 10 == 0 {
                println!(
                    "round {round}: {} acknowledged, {} delivered so far",
                    load.ledger.acked.lock().unwrap().len(),
                    load.ledger.deliveries.load(Ordering::Relaxed)
                );
            }
        }
    }
    let drained = rt.block_on(drain(&load, Duration::from_secs(180)));
    let l = &load.ledger;
    let lost = l.lost();
    let acked = l.acked.lock().unwrap().len();
    let unique = l.received.lock().unwrap().len();
    let deliveries = l.deliveries.load(Ordering::Relaxed);
    restarts.sort();
    println!(
        "\nresult ({mode}, {:.0} s):",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  hub starts:            {} ({} SIGKILLs)",
        hub.starts,
        restarts.len()
    );
    if !restarts.is_empty() {
        println!(
            "  restart to ready:      median {:.0} ms, max {:.0} ms",
            restarts[restarts.len() / 2].as_secs_f64() * 1e3,
            restarts[restarts.len() - 1].as_secs_f64() * 1e3
        );
    }
    let over_amqp = l
        .acked
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.starts_with('a'))
        .count();
    println!(
        "  acknowledged sends:    {acked} ({} over REST, {over_amqp} over AMQP)",
        acked - over_amqp
    );
    println!(
        "  refused (queue full):  {}",
        l.refused.load(Ordering::Relaxed)
    );
    println!(
        "  delivered:             {deliveries} ({unique} distinct, {} again after a crash)",
        deliveries.saturating_sub(unique as u64)
    );
    println!("  drained in:            {:.1} s", drained.as_secs_f64());
    println!("  LOST:                  {}", lost.len());
    if !lost.is_empty() {
        println!("  lost ids (first 20): {:?}", &lost[..lost.len().min(20)]);
        std::process::exit(1);
    }
}
