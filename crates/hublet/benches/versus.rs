//! Hublet side by side with mosquitto: the same devices, the same load
//! generator, one run.
//!
//! ```text
//! cargo bench -p hublet --bench versus -- [--reps 3] [--devices 100] [--messages 20000]
//!     [--senders 8] [--calls 20000] [--callers 10] [--idle 2000]
//! ```
//!
//! Each repetition starts a fresh `hublet serve` (release, default
//! `--durability full`, plain MQTT and HTTP on loopback) and a fresh
//! mosquitto (persistence on, anonymous, loopback), alternating which goes
//! first, and runs against each in turn:
//!
//! - **C2D**: `--devices` MQTT devices (rumqttc, QoS 1, clean session off)
//!   subscribed to `devices/{id}/messages/devicebound/#`; `--senders` tasks
//!   send `--messages` messages round-robin over the devices, one at a time
//!   each (Hublet: `POST /api/devices/{id}/messages` over keep-alive HTTP;
//!   mosquitto: a QoS 1 publisher waiting for its PUBACK). Throughput until
//!   every message reached its device (which PUBACKs it), send → device
//!   latency (send time in the body), the producer's ack latency, and the
//!   bytes the server process wrote to disk (`/proc/PID/io`) per message.
//! - **C2D over AMQP** (Hublet only): the same again with the senders as
//!   the Azure service SDKs send, each on its own AMQP connection (TLS, CBS
//!   put-token for `iothubowner`, a sender link on `/messages/devicebound`)
//!   waiting for each delivery's `accepted`. mosquitto has no AMQP: its
//!   column is its MQTT publishers' figures from the C2D phase.
//! - **Methods**: the same devices answer requests at once; `--callers`
//!   callers call back to back (Hublet: `POST /api/devices/{id}/methods`;
//!   mosquitto: request and response over topics, the caller an MQTT
//!   client), then one caller alone for the round-trip p50.
//! - **Idle connections**: `--idle` more devices connect and subscribe (C2D
//!   and methods); the server's resident memory (VmRSS) before and after,
//!   per connection.
//!
//! The device code is the same for both; only the topic names of methods
//! differ (mosquitto has no per-connection `$iothub` topics, so a device
//! subscribes to its own). mosquitto must be installed (`apt install
//! mosquitto`); without it the bench says so and stops.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::Sender;
use fe2o3_amqp::types::messaging::{Body, Data, Message, Outcome, Properties};
use fe2o3_amqp::types::primitives::{Binary, Value};
use hublet_core::auth::sas;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

mod common;
use common::{arg, free_port};
/// The AMQP benches' service client (TLS, open, session, CBS put-token).
#[path = "../../hublet-amqp/benches/common/mod.rs"]
mod amqp_client;

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A `/proc/PID/...` field, as a number.
fn proc_field(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum System {
    Hublet,
    Mosquitto,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Hublet => "Hublet",
            System::Mosquitto => "mosquitto",
        }
    }

    /// The topic a device subscribes to for method requests.
    fn method_filter(self, device: &str) -> String {
        match self {
            System::Hublet => "$iothub/methods/POST/#".into(),
            System::Mosquitto => format!("methods/{device}/POST/#"),
        }
    }

    /// Where a device answers request `rid`.
    fn method_response(self, rid: &str) -> String {
        match self {
            System::Hublet => format!("$iothub/methods/res/200/?$rid={rid}"),
            System::Mosquitto => {
                let caller = rid.split('.').next().unwrap_or("0");
                format!("methods/res/{caller}/200/?$rid={rid}")
            }
        }
    }
}

/// A server under test, as a child process.
struct Server {
    system: System,
    child: Child,
    mqtt: u16,
    /// Hublet's AMQP (TLS) port.
    amqp: u16,
    api: String,
    token: String,
    http: reqwest::Client,
    keys: HashMap<String, String>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first, so the hub logs its writer's statistics.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes each thread of a process caused to be written to storage
/// (`write_bytes` of `/proc/PID/task/TID/io`), by thread name: the hub's
/// writer writes the WAL, its checkpointer the database file.
fn thread_written(pid: u32) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let written = std::fs::read_to_string(t.path().join("io"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("write_bytes:"))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        *out.entry(name.trim().to_string()).or_insert(0) += written;
    }
    out
}

/// Per message, the threads that wrote between two samples, as "name N B".
fn writers(before: &HashMap<String, u64>, after: &HashMap<String, u64>, msgs: u64) -> String {
    let mut v: Vec<(String, u64)> = growth(before, after)
        .map(|(k, b)| (k.clone(), b))
        .filter(|(_, b)| *b / msgs.max(1) > 0)
        .collect();
    v.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
    v.iter()
        .map(|(k, b)| format!("{k} {} B", b / msgs.max(1)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU time (user + system, in clock ticks) of each thread of a process,
/// by thread name.
fn thread_cpu(pid: u32) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime(14) stime(15)
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = fields
            .get(11)
            .and_then(|u| u.parse::<u64>().ok())
            .unwrap_or(0)
            + fields
                .get(12)
                .and_then(|u| u.parse::<u64>().ok())
                .unwrap_or(0);
        *out.entry(name).or_insert(0) += ticks;
    }
    out
}

/// How much each thread's counter grew between two samples, by name.
fn growth<'a>(
    before: &'a HashMap<String, u64>,
    after: &'a HashMap<String, u64>,
) -> impl Iterator<Item = (&'a String, u64)> {
    after
        .iter()
        .map(|(k, a)| (k, a - before.get(k).copied().unwrap_or(0).min(*a)))
}

/// CPU time used between two samples, in microseconds per unit of work:
/// the server's cost per message or call, which varies far less from run
/// to run on a shared machine than throughput does.
fn cpu_us_per(before: &HashMap<String, u64>, after: &HashMap<String, u64>, units: u64) -> f64 {
    let ticks: u64 = growth(before, after).map(|(_, t)| t).sum();
    // Clock ticks are 1/100 s on Linux.
    ticks as f64 * 10_000.0 / units.max(1) as f64
}

/// The busiest threads between two samples, as "name NN%" (of one core).
fn busiest(before: &HashMap<String, u64>, after: &HashMap<String, u64>, secs: f64) -> String {
    let mut v: Vec<(String, f64)> = growth(before, after)
        .map(|(k, t)| (k.clone(), t as f64 / 100.0 / secs * 100.0))
        .filter(|(_, pct)| *pct >= 1.0)
        .collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    v.iter()
        .map(|(k, p)| format!("{k} {p:.0}%"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn start(system: System) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mqtt = free_port();
        let amqp = free_port();
        let (child, api) = match system {
            System::Hublet => {
                let api = free_port();
                let args: Vec<String> = [
                    "--mqtts",
                    "off",
                    "--https",
                    "off",
                    "--amqps",
                    &format!("127.0.0.1:{amqp}"),
                    "--mqtt",
                    &format!("127.0.0.1:{mqtt}"),
                    "--api",
                    &format!("127.0.0.1:{api}"),
                ]
                .map(String::from)
                .to_vec();
                let log = std::env::var("VERSUS_HUB_LOG").ok();
                let child = common::serve(dir.path(), &args, log.as_deref());
                (child, format!("http://127.0.0.1:{api}"))
            }
            System::Mosquitto => {
                let conf = dir.path().join("mosquitto.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "listener {mqtt} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                         persistence_location {}/\nmax_queued_messages 100000\nset_tcp_nodelay true\n",
                        dir.path().display()
                    ),
                )
                .unwrap();
                let child = Command::new("mosquitto")
                    .arg("-c")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(10);
                while tokio::net::TcpStream::connect(("127.0.0.1", mqtt))
                    .await
                    .is_err()
                {
                    assert!(Instant::now() < deadline, "mosquitto did not start");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (child, String::new())
            }
        };
        let token = match system {
            System::Hublet => std::fs::read_to_string(dir.path().join("api-token"))
                .unwrap()
                .trim()
                .to_string(),
            System::Mosquitto => String::new(),
        };
        Server {
            system,
            child,
            mqtt,
            amqp,
            api,
            token,
            http: reqwest::Client::new(),
            keys: HashMap::new(),
            _dir: dir,
        }
    }

    /// Registers devices (Hublet only; mosquitto takes anyone).
    async fn register(&mut self, ids: &[String]) {
        if self.system != System::Hublet {
            return;
        }
        for chunk in ids.chunks(16) {
            let calls = chunk.iter().map(|id| {
                let req = self
                    .http
                    .post(format!("{}/api/devices", self.api))
                    .bearer_auth(&self.token)
                    .json(&serde_json::json!({ "deviceId": id }));
                async move {
                    let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
                    let key = v["authentication"]["symmetricKey"]["primaryKey"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    (id.clone(), key)
                }
            });
            for (id, key) in futures::future::join_all(calls).await {
                self.keys.insert(id, key);
            }
        }
    }

    /// A service connection to Hublet's AMQP endpoint, opened as the Azure
    /// service SDKs open one (TLS trusting the hub's CA, a CBS put-token
    /// for `iothubowner`), with the AMQP benches' client.
    async fn amqp_service(&self) -> amqp_client::Service {
        let ca = self._dir.path().join("tls").join("ca.pem");
        let tls =
            hublet_tls::client_config_for_ca(&std::fs::read_to_string(&ca).unwrap(), &ca).unwrap();
        let token: serde_json::Value = self
            .http
            .get(format!(
                "{}/api/sas-token/service?policy=iothubowner",
                self.api
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.amqp));
        amqp_client::connect_with(
            addr,
            tls,
            token["token"].as_str().unwrap(),
            "https://localhost",
        )
        .await
    }

    fn options(&self, id: &str) -> MqttOptions {
        let mut o = MqttOptions::new(id, "127.0.0.1", self.mqtt);
        o.set_keep_alive(Duration::from_secs(120));
        if let Some(key) = self.keys.get(id) {
            let token =
                sas::create(&format!("localhost/devices/{id}"), key, None, 4_102_444_800).unwrap();
            o.set_credentials(format!("localhost/{id}/?api-version=2021-04-12"), token);
        }
        o
    }
}

/// What the devices saw.
#[derive(Default)]
struct Seen {
    subscribed: AtomicU64,
    delivered: AtomicU64,
    latencies_us: Mutex<Vec<f64>>,
}

/// One device, the same for both servers: subscribes to its C2D topic
/// (QoS 1) and to method requests, acknowledges every C2D message (rumqttc
/// PUBACKs on receipt), answers every method request at once.
fn spawn_device(server: &Server, id: String, seen: Arc<Seen>) -> tokio::task::JoinHandle<()> {
    let mut o = server.options(&id);
    o.set_clean_session(false);
    let system = server.system;
    let (client, mut events) = AsyncClient::new(o, 1024);
    tokio::spawn(async move {
        let c2d = format!("devices/{id}/messages/devicebound/#");
        let c2d_prefix = format!("devices/{id}/messages/devicebound/");
        let methods = system.method_filter(&id);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(&c2d, QoS::AtLeastOnce);
                    let _ = client.try_subscribe(&methods, QoS::AtMostOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    seen.subscribed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if p.topic.starts_with(&c2d_prefix) {
                        let now = unix_us();
                        let sent: Option<u64> = std::str::from_utf8(&p.payload)
                            .ok()
                            .and_then(|s| s.parse().ok());
                        if let Some(sent) = sent {
                            seen.latencies_us
                                .lock()
                                .unwrap()
                                .push(now.saturating_sub(sent) as f64);
                        }
                        seen.delivered.fetch_add(1, Ordering::Relaxed);
                    } else if let Some((_, rid)) = p.topic.split_once("?$rid=") {
                        let _ = client.try_publish(
                            system.method_response(rid),
                            QoS::AtMostOnce,
                            false,
                            b"{}".to_vec(),
                        );
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Figures of one run against one server.
#[derive(Default, Clone)]
struct Figures {
    c2d_per_s: f64,
    c2d_p50_ms: f64,
    c2d_p99_ms: f64,
    ack_p50_ms: f64,
    disk_bytes_per_msg: f64,
    /// The C2D phase again with AMQP producers (Hublet; mosquitto's are
    /// its MQTT figures).
    amqp_c2d_per_s: f64,
    amqp_c2d_p50_ms: f64,
    amqp_ack_p50_ms: f64,
    methods_per_s: f64,
    method_p50_ms: f64,
    idle_kib: f64,
    /// The server's CPU time per C2D message (HTTP producers) and per
    /// method call (callers back to back), microseconds.
    c2d_cpu_us: f64,
    method_cpu_us: f64,
    /// The server's busiest threads during the C2D and methods phases.
    c2d_threads: String,
    /// Bytes written per C2D message, by the hub's threads that wrote them.
    c2d_writers: String,
    method_threads: String,
}

/// One C2D sender: sends its share one at a time, returns ack latencies (ms).
async fn c2d_sender(server: Arc<Server>, k: usize, count: usize, devices: usize) -> Vec<f64> {
    let mut acks = Vec::with_capacity(count);
    match server.system {
        System::Hublet => {
            let http = reqwest::Client::new();
            for i in 0..count {
                let dev = format!("v{}", (k + i * 8) % devices);
                let t = Instant::now();
                let r = http
                    .post(format!("{}/api/devices/{dev}/messages", server.api))
                    .bearer_auth(&server.token)
                    .json(&serde_json::json!({ "body": unix_us().to_string() }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{:?}", r.text().await);
                acks.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        System::Mosquitto => {
            let o = server.options(&format!("sender-{k}"));
            let (client, mut events) = AsyncClient::new(o, 16);
            loop {
                if let Ok(Event::Incoming(Packet::ConnAck(_))) = events.poll().await {
                    break;
                }
            }
            for i in 0..count {
                let dev = format!("v{}", (k + i * 8) % devices);
                let t = Instant::now();
                client
                    .publish(
                        format!("devices/{dev}/messages/devicebound/m"),
                        QoS::AtLeastOnce,
                        false,
                        unix_us().to_string(),
                    )
                    .await
                    .unwrap();
                loop {
                    if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.unwrap() {
                        break;
                    }
                }
                acks.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    acks
}

/// One AMQP C2D sender (Hublet): its own service connection and sender
/// link, one delivery at a time; returns the times to `accepted` (ms).
async fn amqp_sender(server: Arc<Server>, k: usize, count: usize, devices: usize) -> Vec<f64> {
    let amqp_client::Service {
        mut conn,
        mut session,
    } = server.amqp_service().await;
    let mut tx = Sender::attach(&mut session, format!("versus-{k}"), "/messages/devicebound")
        .await
        .unwrap();
    let mut acks = Vec::with_capacity(count);
    for i in 0..count {
        let dev = format!("v{}", (k + i * 8) % devices);
        let m = Message::builder()
            .properties(Properties {
                to: Some(format!("/devices/{dev}/messages/devicebound")),
                message_id: Some(format!("a{k}.{i}").into()),
                ..Default::default()
            })
            .body(Body::<Value>::Data(
                vec![Data(Binary::from(unix_us().to_string().into_bytes()))].into(),
            ))
            .build();
        let t = Instant::now();
        let outcome = tx.send(m).await.unwrap();
        assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
        acks.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let _ = tx.close().await;
    let _ = session.end().await;
    let _ = conn.close().await;
    acks
}

/// One method caller: `count` calls back to back; returns round trips (ms).
async fn caller(server: Arc<Server>, k: usize, count: usize, devices: usize) -> Vec<f64> {
    let mut rtts = Vec::with_capacity(count);
    match server.system {
        System::Hublet => {
            let http = reqwest::Client::new();
            for i in 0..count {
                let dev = format!("v{}", (k + i * 7) % devices);
                let t = Instant::now();
                let r = http
                    .post(format!("{}/api/devices/{dev}/methods", server.api))
                    .bearer_auth(&server.token)
                    .json(&serde_json::json!({
                        "methodName": "ping", "payload": {}, "responseTimeoutInSeconds": 10
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{:?}", r.text().await);
                rtts.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        System::Mosquitto => {
            let o = server.options(&format!("caller-{k}"));
            let (client, mut events) = AsyncClient::new(o, 16);
            client
                .subscribe(format!("methods/res/{k}/#"), QoS::AtMostOnce)
                .await
                .unwrap();
            loop {
                if let Ok(Event::Incoming(Packet::SubAck(_))) = events.poll().await {
                    break;
                }
            }
            for i in 0..count {
                let dev = format!("v{}", (k + i * 7) % devices);
                let rid = format!("{k}.{i}");
                let t = Instant::now();
                client
                    .publish(
                        format!("methods/{dev}/POST/ping/?$rid={rid}"),
                        QoS::AtMostOnce,
                        false,
                        b"{}".to_vec(),
                    )
                    .await
                    .unwrap();
                loop {
                    if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap()
                        && p.topic.ends_with(&format!("?$rid={rid}"))
                    {
                        break;
                    }
                }
                rtts.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    rtts
}

async fn run_one(system: System, p: &Params) -> Figures {
    let mut server = Server::start(system).await;
    let ids: Vec<String> = (0..p.devices).map(|i| format!("v{i}")).collect();
    let idle_ids: Vec<String> = (0..p.idle).map(|i| format!("idle{i}")).collect();
    server.register(&ids).await;
    server.register(&idle_ids).await;
    let seen = Arc::new(Seen::default());
    // Every device task of this run, stopped at its end (they would go on
    // reconnecting to the stopped server and load the next run).
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    for id in &ids {
        tasks.push(spawn_device(&server, id.clone(), seen.clone()));
    }
    let subs = 2 * p.devices as u64;
    wait_for("devices to subscribe", Duration::from_secs(60), || {
        seen.subscribed.load(Ordering::Relaxed) >= subs
    })
    .await;
    let server = Arc::new(server);
    let mut f = Figures::default();

    // C2D.
    let written_before = proc_field(server.pid(), "io", "write_bytes:");
    let threads_written_before = thread_written(server.pid());
    let cpu_before = thread_cpu(server.pid());
    let start = Instant::now();
    let per = p.messages / p.senders;
    let total = (per * p.senders) as u64;
    let senders: Vec<_> = (0..p.senders)
        .map(|k| tokio::spawn(c2d_sender(server.clone(), k, per, p.devices)))
        .collect();
    let mut acks = Vec::new();
    for s in senders {
        acks.extend(s.await.unwrap());
    }
    wait_for(
        "every C2D message to arrive",
        Duration::from_secs(300),
        || seen.delivered.load(Ordering::Relaxed) >= total,
    )
    .await;
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = thread_cpu(server.pid());
    f.c2d_threads = busiest(&cpu_before, &cpu_after, secs);
    f.c2d_cpu_us = cpu_us_per(&cpu_before, &cpu_after, total);
    // Let settlements (completions) reach the disk before counting bytes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let written = proc_field(server.pid(), "io", "write_bytes:") - written_before;
    f.c2d_writers = writers(
        &threads_written_before,
        &thread_written(server.pid()),
        total,
    );
    let mut lat = std::mem::take(&mut *seen.latencies_us.lock().unwrap());
    f.c2d_per_s = total as f64 / secs;
    f.c2d_p50_ms = pct(&mut lat, 0.5) / 1e3;
    f.c2d_p99_ms = pct(&mut lat, 0.99) / 1e3;
    f.ack_p50_ms = pct(&mut acks, 0.5);
    f.disk_bytes_per_msg = written as f64 / total as f64;

    // C2D again, from AMQP producers (Hublet only).
    match system {
        System::Hublet => {
            let before = seen.delivered.load(Ordering::Relaxed);
            let start = Instant::now();
            let senders: Vec<_> = (0..p.senders)
                .map(|k| tokio::spawn(amqp_sender(server.clone(), k, per, p.devices)))
                .collect();
            let mut acks = Vec::new();
            for s in senders {
                acks.extend(s.await.unwrap());
            }
            wait_for(
                "every AMQP C2D message to arrive",
                Duration::from_secs(300),
                || seen.delivered.load(Ordering::Relaxed) >= before + total,
            )
            .await;
            f.amqp_c2d_per_s = total as f64 / start.elapsed().as_secs_f64();
            let mut lat = std::mem::take(&mut *seen.latencies_us.lock().unwrap());
            f.amqp_c2d_p50_ms = pct(&mut lat, 0.5) / 1e3;
            f.amqp_ack_p50_ms = pct(&mut acks, 0.5);
        }
        System::Mosquitto => {
            f.amqp_c2d_per_s = f.c2d_per_s;
            f.amqp_c2d_p50_ms = f.c2d_p50_ms;
            f.amqp_ack_p50_ms = f.ack_p50_ms;
        }
    }

    // Methods.
    let per_caller = p.calls / p.callers;
    let cpu_before = thread_cpu(server.pid());
    let start = Instant::now();
    let callers: Vec<_> = (0..p.callers)
        .map(|k| tokio::spawn(caller(server.clone(), k, per_caller, p.devices)))
        .collect();
    for c in callers {
        c.await.unwrap();
    }
    f.methods_per_s = (per_caller * p.callers) as f64 / start.elapsed().as_secs_f64();
    let cpu_after = thread_cpu(server.pid());
    f.method_threads = busiest(&cpu_before, &cpu_after, start.elapsed().as_secs_f64());
    f.method_cpu_us = cpu_us_per(&cpu_before, &cpu_after, (per_caller * p.callers) as u64);
    let mut one = caller(server.clone(), 99, 3000, p.devices).await;
    f.method_p50_ms = pct(&mut one, 0.5);

    // Idle connections.
    if p.idle > 0 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = proc_field(server.pid(), "status", "VmRSS:");
        let idle_seen = Arc::new(Seen::default());
        for id in &idle_ids {
            tasks.push(spawn_device(&server, id.clone(), idle_seen.clone()));
        }
        let subs = 2 * p.idle as u64;
        wait_for(
            "idle devices to subscribe",
            Duration::from_secs(300),
            || idle_seen.subscribed.load(Ordering::Relaxed) >= subs,
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = proc_field(server.pid(), "status", "VmRSS:");
        f.idle_kib = after.saturating_sub(before) as f64 / p.idle as f64;
    }
    for t in tasks {
        t.abort();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    f
}

struct Params {
    devices: usize,
    messages: usize,
    senders: usize,
    calls: usize,
    callers: usize,
    idle: usize,
}

fn main() {
    if Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "mosquitto is not installed: `sudo apt install mosquitto` (Debian/Ubuntu), then run this again"
        );
        std::process::exit(2);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
    let p = Params {
        devices: arg("--devices", 100),
        messages: arg("--messages", 20_000),
        senders: arg("--senders", 8),
        calls: arg("--calls", 20_000),
        callers: arg("--callers", 10),
        idle: arg("--idle", 2000),
    };
    let reps = arg("--reps", 3);
    // `--only hublet` (or `mosquitto`) runs one side, for profiling; the
    // ratios need both.
    let only: String = arg("--only", String::new());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = |when: &str| {
        let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("load average {when}: {}", l.trim());
    };
    load("at the start");
    println!(
        "{} devices, {} C2D messages from {} senders, {} method calls from {} callers, {} idle connections; {} repetitions",
        p.devices, p.messages, p.senders, p.calls, p.callers, p.idle, reps
    );
    let mut results: HashMap<&'static str, Vec<Figures>> = HashMap::new();
    for rep in 0..reps {
        let order = if rep % 2 == 0 {
            [System::Hublet, System::Mosquitto]
        } else {
            [System::Mosquitto, System::Hublet]
        };
        for system in order {
            if !only.is_empty() && !system.name().eq_ignore_ascii_case(&only) {
                continue;
            }
            let f = rt.block_on(run_one(system, &p));
            println!(
                "rep {} {:>9}: C2D {:>8.0}/s, send->device p50 {:.2} ms p99 {:.2} ms, ack p50 {:.2} ms, disk {:.0} B/msg; methods {:>7.0}/s, 1-caller p50 {:.3} ms; idle {:.1} KiB/conn",
                rep + 1,
                system.name(),
                f.c2d_per_s,
                f.c2d_p50_ms,
                f.c2d_p99_ms,
                f.ack_p50_ms,
                f.disk_bytes_per_msg,
                f.methods_per_s,
                f.method_p50_ms,
                f.idle_kib
            );
            if system == System::Hublet {
                println!(
                    "      C2D from AMQP producers: {:>8.0}/s, send->device p50 {:.2} ms, accepted p50 {:.2} ms",
                    f.amqp_c2d_per_s, f.amqp_c2d_p50_ms, f.amqp_ack_p50_ms
                );
            }
            println!(
                "      server CPU: {:.0} µs per C2D message, {:.0} µs per method call; threads: C2D [{}]; methods [{}]; C2D disk per message [{}]",
                f.c2d_cpu_us, f.method_cpu_us, f.c2d_threads, f.method_threads, f.c2d_writers
            );
            results.entry(system.name()).or_default().push(f);
        }
    }
    load("at the end");
    let (Some(h), Some(m)) = (results.get("Hublet"), results.get("mosquitto")) else {
        return;
    };
    type Get = fn(&Figures) -> f64;
    let rows: [(&str, Get, &str); 13] = [
        ("C2D msg/s", |f| f.c2d_per_s, "higher"),
        ("C2D send->device p50 ms", |f| f.c2d_p50_ms, "lower"),
        ("C2D send->device p99 ms", |f| f.c2d_p99_ms, "lower"),
        ("producer ack p50 ms", |f| f.ack_p50_ms, "lower"),
        (
            "C2D msg/s, AMQP producers (mosquitto: MQTT)",
            |f| f.amqp_c2d_per_s,
            "higher",
        ),
        (
            "C2D send->device p50 ms, AMQP producers",
            |f| f.amqp_c2d_p50_ms,
            "lower",
        ),
        (
            "producer ack p50 ms, AMQP accepted",
            |f| f.amqp_ack_p50_ms,
            "lower",
        ),
        (
            "disk bytes per C2D message",
            |f| f.disk_bytes_per_msg,
            "lower",
        ),
        (
            "methods/s, callers back to back",
            |f| f.methods_per_s,
            "higher",
        ),
        ("method p50 ms, 1 caller", |f| f.method_p50_ms, "lower"),
        (
            "server CPU µs per C2D message (HTTP producers)",
            |f| f.c2d_cpu_us,
            "lower",
        ),
        (
            "server CPU µs per method call",
            |f| f.method_cpu_us,
            "lower",
        ),
        ("KiB per idle connection", |f| f.idle_kib, "lower"),
    ];
    println!(
        "\n| Figure | Hublet (range) | mosquitto (range) | Hublet / mosquitto (medians) |\n|---|---:|---:|---:|"
    );
    for (name, get, _) in rows {
        let range = |v: &[Figures]| {
            let mut x: Vec<f64> = v.iter().map(get).collect();
            let med = pct(&mut x, 0.5);
            (x[0], x[x.len() - 1], med)
        };
        let (hl, hh, hm) = range(h);
        let (ml, mh, mm) = range(m);
        let fmt = |v: f64| {
            if v >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.3}")
            }
        };
        println!(
            "| {name} | {}–{} | {}–{} | {:.2}× |",
            fmt(hl),
            fmt(hh),
            fmt(ml),
            fmt(mh),
            if mm > 0.0 { hm / mm } else { f64::NAN }
        );
    }
}
