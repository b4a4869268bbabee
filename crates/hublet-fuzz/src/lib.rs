//! Fuzz targets: one function per surface that hostile bytes reach first.
//!
//! Each target takes arbitrary bytes and must neither panic, nor hang, nor
//! answer with a server error; where a surface has an invariant (a decoder
//! that must round-trip), the target checks it too. libFuzzer drives them
//! coverage-guided from `tests/fuzz` (a separate cargo project, because it
//! builds with sanitizer-coverage flags); this crate's `replay` test runs
//! every saved corpus input and a few thousand random mutations of them on
//! every CI run, with the ordinary test build.
//!
//! Targets that need a hub share one per process (opened lazily, on a
//! temporary directory, with fsync off), because opening one per input
//! would make each input cost milliseconds.

use std::sync::OnceLock;
use std::time::Duration;

use hublet_core::{Hub, HubOptions, NewDevice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// A fuzz target: takes any bytes.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay test and the runner script.
pub const TARGETS: &[(&str, Target)] = &[
    ("mqtt_session", mqtt_session),
    ("amqp_session", amqp_session),
    ("mqtt_topics", mqtt_topics),
    ("property_bag", property_bag),
    ("sas_token", sas_token),
    ("serial_line", serial_line),
    ("rest_body", rest_body),
];

struct Bench {
    rt: Runtime,
    hub: Hub,
    gateway: hublet_mqtt::Gateway,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

/// The API token the REST target sends.
const TOKEN: &str = "fuzz-token";

fn bench() -> &'static Bench {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    BENCH.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (hub, gateway, router) = rt.block_on(async {
            let settings = hublet_core::HubSettings {
                open_bench: true,
                ..Default::default()
            };
            let hub = Hub::open(
                HubOptions::new(dir.path().join("hublet.db"))
                    .durability(hublet_core::Durability::Normal)
                    .settings(settings)
                    .background_tasks(false),
            )
            .await
            .expect("a hub");
            hub.registry()
                .create(NewDevice::named("d1"))
                .await
                .expect("device d1");
            let gateway = hublet_mqtt::Gateway::start(
                hub.clone(),
                hublet_mqtt::GatewayConfig {
                    connect_timeout: Duration::from_secs(1),
                    ..Default::default()
                },
            )
            .await
            .expect("a gateway");
            let state = hublet_api::AppState::new(
                hub.clone(),
                TOKEN.into(),
                hublet_api::SecurityConfig::default(),
                hublet_api::ServerFacts::default(),
            );
            (hub, gateway, hublet_api::router(state))
        });
        Bench {
            rt,
            hub,
            gateway,
            router,
            _dir: dir,
        }
    })
}

/// The bytes as one MQTT connection's whole input: the gateway reads them
/// as a device would send them, answers, and must end the connection once
/// the input ends, within a bound.
pub fn mqtt_session(data: &[u8]) {
    let b = bench();
    b.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let serve = b.gateway.serve_io(server, "fuzz");
        let talk = async {
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
        };
        let both = async { tokio::join!(serve, talk) };
        if tokio::time::timeout(Duration::from_secs(10), both)
            .await
            .is_err()
        {
            panic!("the MQTT connection did not end within 10 s of its input ending");
        }
    });
}

/// The bytes as one AMQP connection's whole input (after TLS): header,
/// SASL, open, sessions, links, transfers. The connection must end within a
/// bound once the input ends.
pub fn amqp_session(data: &[u8]) {
    let b = bench();
    b.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let cancel = tokio_util::sync::CancellationToken::new();
        let serve = hublet_amqp::connection::serve(
            b.hub.clone(),
            server,
            "fuzz".into(),
            "amqp",
            cancel.clone(),
            None,
        );
        let talk = async {
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
        };
        let both = async { tokio::join!(serve, talk) };
        if tokio::time::timeout(Duration::from_secs(15), both)
            .await
            .is_err()
        {
            panic!("the AMQP connection did not end within 15 s of its input ending");
        }
    });
}

/// The bytes as MQTT user names, topic filters and publish topics.
pub fn mqtt_topics(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let _ = hublet_mqtt::topics::parse_username(&s);
    if let Ok(f) = hublet_mqtt::topics::parse_filter("d1", &s) {
        // A filter Hublet accepts names a topic it can write back.
        let _ = hublet_mqtt::topics::filter_topic("d1", &f);
    }
    let _ = hublet_mqtt::topics::parse_publish("d1", &s);
}

/// The bytes as a property bag: decoding never fails, and what it decodes
/// encodes and decodes back to the same pairs.
pub fn property_bag(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let pairs = hublet_core::property_bag::decode(&s);
    let encoded =
        hublet_core::property_bag::encode(pairs.iter().map(|(k, v)| (k.as_str(), v.as_deref())));
    let again = hublet_core::property_bag::decode(&encoded);
    assert_eq!(pairs, again, "a property bag did not survive encode/decode");
}

/// The bytes as a SAS token (checked against a device and a policy) and
/// as a connection string.
pub fn sas_token(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let policies = hublet_core::auth::default_policies();
    let hosts = ["localhost".to_string()];
    let _ = hublet_core::auth::sas::SasToken::parse(&s);
    let _ = hublet_core::auth::verify_device_token(&s, "d1", [key, key], &policies, &hosts, 0);
    let _ = hublet_core::auth::verify_service_token(
        &s,
        hublet_core::auth::Permission::ServiceConnect,
        &policies,
        &hosts,
        0,
    );
    let _ = hublet_core::auth::connection_string::ConnectionString::parse(&s);
}

/// The bytes as a line from a board, and as a line of the hub's frames;
/// escaped bodies come back unchanged.
pub fn serial_line(data: &[u8]) {
    let _ = hublet_serial::protocol::parse(data);
    let _ = hublet_serial::protocol::parse_hub(data);
    let escaped = hublet_serial::protocol::escape(data);
    assert_eq!(
        hublet_serial::protocol::unescape(&escaped),
        data,
        "a serial body did not survive escape/unescape"
    );
}

/// Endpoints that take a JSON body, chosen by the input's first byte.
const REST: &[(&str, &str)] = &[
    ("POST", "/api/devices"),
    ("POST", "/api/devices/d1/messages"),
    ("PATCH", "/api/devices/d1"),
    ("PUT", "/api/settings"),
    ("PUT", "/devices/fuzz-dev?api-version=2021-04-12"),
];

/// The bytes (after the first) as a JSON body to one of the API's
/// endpoints: any answer but a server error is fine.
pub fn rest_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path) = REST[usize::from(pick) % REST.len()];
    let b = bench();
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a request");
    let res = b.rt.block_on(async {
        let call = tower::ServiceExt::oneshot(b.router.clone(), req);
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("an answer within 10 s")
    });
    let status = match res {
        Ok(r) => r.status(),
        Err(never) => match never {},
    };
    assert!(
        !status.is_server_error() || status.as_u16() == 507,
        "{method} {path} answered {status} to {:?}",
        String::from_utf8_lossy(body)
    );
}

/// Keeps the shared hub reachable for targets that want to inspect it.
pub fn hub() -> &'static Hub {
    &bench().hub
}
