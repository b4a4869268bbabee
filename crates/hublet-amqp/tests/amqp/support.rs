//! A hub with its AMQP endpoint on 127.0.0.1, and an AMQP client
//! (fe2o3-amqp's) that speaks to it as the service SDKs do: TLS, optional
//! SASL, a CBS put-token, then links.

use std::net::SocketAddr;
use std::sync::Arc;

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::{Connection, Session};
use fe2o3_amqp_cbs::client::CbsClient;
use fe2o3_amqp_cbs::token::CbsToken;
use hublet_amqp::{AmqpConfig, AmqpServer};
use hublet_core::auth::sas;
use hublet_core::{Hub, HubOptions, HubSettings, ManualClock, NewDevice};
use hublet_tls::LocalPki;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

pub struct Bench {
    pub hub: Hub,
    pub clock: ManualClock,
    pub _server: AmqpServer,
    pub addr: SocketAddr,
    pub pki: LocalPki,
    pub _dir: TempDir,
}

pub struct Client {
    pub conn: ConnectionHandle<()>,
    pub session: SessionHandle<()>,
}

impl Bench {
    pub async fn new() -> Bench {
        Bench::with_settings(HubSettings::default()).await
    }

    pub async fn with_settings(settings: HubSettings) -> Bench {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_2030();
        let hub = Hub::open(
            HubOptions::new(dir.path().join("hublet.db"))
                .clock(clock.shared())
                .settings(settings)
                .background_tasks(false),
        )
        .await
        .unwrap();
        for d in ["d1", "d2", "d3"] {
            hub.registry().create(NewDevice::named(d)).await.unwrap();
        }
        let pki = LocalPki::load_or_create(&dir.path().join("tls"), &[]).unwrap();
        let server = AmqpServer::start(
            hub.clone(),
            AmqpConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                tls: pki.server_config().unwrap(),
                max_connections: 64,
            },
        )
        .await
        .unwrap();
        let addr = server.addr().unwrap();
        Bench {
            hub,
            clock,
            _server: server,
            addr,
            pki,
            _dir: dir,
        }
    }

    /// A service token for `policy`, valid for `ttl` seconds of the hub's clock.
    pub fn token(&self, policy: &str, ttl: i64) -> String {
        let key = self
            .hub
            .policies()
            .iter()
            .find(|p| p.name == policy)
            .unwrap()
            .primary_key
            .clone();
        sas::create(
            "localhost",
            &key,
            Some(policy),
            self.hub.now().unix_seconds() + ttl,
        )
        .unwrap()
    }

    pub async fn tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let connector =
            TlsConnector::from(Arc::new(self.pki.client_config().unwrap().as_ref().clone()));
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }

    /// A connection without SASL (as Node and .NET open it).
    pub async fn connect(&self) -> Client {
        let conn = Connection::builder()
            .container_id("test-client")
            .hostname("localhost")
            .open_with_stream(self.tls().await)
            .await
            .unwrap();
        Client::with(conn).await
    }

    /// A connection with SASL PLAIN (as the Azure CLI opens it with a key).
    pub async fn connect_plain(&self, user: &str, password: &str) -> Result<Client, String> {
        let conn = Connection::builder()
            .container_id("test-client")
            .hostname("localhost")
            .sasl_profile(fe2o3_amqp::sasl_profile::SaslProfile::Plain {
                username: user.into(),
                password: password.into(),
            })
            .open_with_stream(self.tls().await)
            .await
            .map_err(|e| format!("{e}"))?;
        Ok(Client::with(conn).await)
    }

    /// Connects and puts a token for `iothubowner`.
    pub async fn authorized(&self) -> Client {
        let mut c = self.connect().await;
        c.put_token(&self.token("iothubowner", 3600)).await.unwrap();
        c
    }
}

impl Client {
    async fn with(mut conn: ConnectionHandle<()>) -> Client {
        let session = Session::begin(&mut conn).await.unwrap();
        Client { conn, session }
    }

    /// A CBS put-token; Err with the failure when the hub refuses it.
    /// (fe2o3's CBS client expects Service Bus's 202; IoT Hub answers 200,
    /// which Node requires exactly, so a "failure" with status 200 is the
    /// success.)
    pub async fn put_token(&mut self, token: &str) -> Result<(), String> {
        let mut cbs = CbsClient::attach(&mut self.session).await.unwrap();
        let r = cbs
            .put_token(
                "https://localhost",
                CbsToken::new(token, "servicebus.windows.net:sastoken", None),
            )
            .await
            .map_err(|e| format!("{e:?}"));
        let _ = cbs.close().await;
        match r {
            Err(e) if e.contains("StatusCode(200)") => Ok(()),
            r => r,
        }
    }
}
