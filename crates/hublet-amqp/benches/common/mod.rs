//! What the AMQP endpoint's bench binaries share: `--name value` arguments,
//! percentiles, and a service client as the SDKs open one (TLS, AMQP open,
//! a session, a CBS put-token for `iothubowner`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::{Connection, Session};
use fe2o3_amqp_cbs::client::CbsClient;
use fe2o3_amqp_cbs::token::CbsToken;
use hublet_core::Hub;
use hublet_core::auth::sas;
use hublet_tls::LocalPki;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0 to 1) of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Durations as sorted milliseconds, for [`pct`].
pub fn sorted_ms(d: &[Duration]) -> Vec<f64> {
    let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// An authorised service connection and its session.
pub struct Service {
    pub conn: ConnectionHandle<()>,
    pub session: SessionHandle<()>,
}

/// A service token for the hub's `iothubowner` policy, valid two hours.
pub fn owner_token(hub: &Hub) -> String {
    let key = hub
        .policies()
        .iter()
        .find(|p| p.name == "iothubowner")
        .map(|p| p.primary_key.clone())
        .unwrap_or_default();
    sas::create(
        "localhost",
        &key,
        Some("iothubowner"),
        hub.now().unix_seconds() + 7200,
    )
    .unwrap()
}

/// Opens a connection to the AMQP listener at `addr` and puts `token` on
/// `$cbs` for `audience`.
pub async fn connect(addr: SocketAddr, pki: &LocalPki, token: &str, audience: &str) -> Service {
    connect_with(addr, pki.client_config().unwrap(), token, audience).await
}

/// [`connect`] with the TLS client configuration given (a bench that
/// only has the hub's CA file; `crates/hublet/benches/versus.rs` includes
/// this module).
pub async fn connect_with(
    addr: SocketAddr,
    tls: Arc<tokio_rustls::rustls::ClientConfig>,
    token: &str,
    audience: &str,
) -> Service {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = TlsConnector::from(tls)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut conn = Connection::builder()
        .container_id("bench")
        .hostname("localhost")
        .open_with_stream(tls)
        .await
        .unwrap();
    let mut session = Session::begin(&mut conn).await.unwrap();
    let mut cbs = CbsClient::attach(&mut session).await.unwrap();
    // fe2o3's CBS client expects 202; IoT Hub (and Hublet) answer 200.
    let _ = cbs
        .put_token(
            audience,
            CbsToken::new(token, "servicebus.windows.net:sastoken", None),
        )
        .await;
    let _ = cbs.close().await;
    Service { conn, session }
}
