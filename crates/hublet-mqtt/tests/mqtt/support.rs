//! A hub with a gateway on 127.0.0.1 (TCP and TLS), a raw packet client, and
//! rumqttc devices.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hublet_core::auth::sas;
use hublet_core::{Hub, HubOptions, HubSettings, ManualClock, NewDevice};
use hublet_mqtt::{Gateway, GatewayConfig};
use hublet_tls::LocalPki;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Codec, ConnAck, Connect, Login, Packet};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

pub struct Bench {
    pub hub: Hub,
    pub clock: ManualClock,
    pub gw: Gateway,
    pub pki: LocalPki,
    pub dir: TempDir,
}

impl Bench {
    pub async fn new() -> Bench {
        Bench::with(HubSettings::default(), GatewayConfig::default()).await
    }

    pub async fn with(settings: HubSettings, mut config: GatewayConfig) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        Bench::open(dir, settings, &mut config).await
    }

    /// Opens a hub and gateway on `dir` (which may hold an earlier hub's data).
    pub async fn open(dir: TempDir, settings: HubSettings, config: &mut GatewayConfig) -> Bench {
        let clock = ManualClock::at_2030();
        let hub = Hub::open(
            HubOptions::new(dir.path().join("hub.db"))
                .clock(clock.shared())
                .settings(settings)
                .background_tasks(false),
        )
        .await
        .unwrap();
        let pki = LocalPki::load_or_create(&dir.path().join("tls"), &[]).unwrap();
        config.tcp = Some("127.0.0.1:0".parse().unwrap());
        config.tls = Some(("127.0.0.1:0".parse().unwrap(), pki.server_config().unwrap()));
        let gw = Gateway::start(hub.clone(), config.clone()).await.unwrap();
        Bench {
            hub,
            clock,
            gw,
            pki,
            dir,
        }
    }

    /// Stops gateway and hub, returning the data directory.
    pub async fn stop(self) -> TempDir {
        self.gw.shutdown().await;
        self.hub.close().await.unwrap();
        drop(self.hub);
        self.dir
    }

    pub async fn device(&self, id: &str) -> String {
        self.hub
            .registry()
            .create(NewDevice::named(id))
            .await
            .unwrap()
            .primary_key
    }

    /// A SAS token for `id` valid for `ttl` seconds of hub time.
    pub async fn token(&self, id: &str, ttl: i64) -> String {
        let key = self.hub.registry().get(id).await.unwrap().primary_key;
        sas::create(
            &format!("localhost/devices/{id}"),
            &key,
            None,
            self.hub.now().unix_seconds() + ttl,
        )
        .unwrap()
    }

    pub async fn raw(&self) -> Raw {
        let s = TcpStream::connect(self.gw.tcp_addr().unwrap())
            .await
            .unwrap();
        Raw::new(Box::new(s))
    }

    pub async fn raw_tls(&self) -> Raw {
        let s = TcpStream::connect(self.gw.tls_addr().unwrap())
            .await
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.pki.client_config().unwrap());
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, s).await.unwrap();
        Raw::new(Box::new(tls))
    }

    /// A raw client connected as `id` over TCP (`tls = false`) or TLS.
    pub async fn connected(&self, id: &str, tls: bool, clean: bool) -> Raw {
        let mut raw = if tls {
            self.raw_tls().await
        } else {
            self.raw().await
        };
        let token = self.token(id, 3600).await;
        let ack = raw
            .connect(
                id,
                Some(&format!("localhost/{id}/?api-version=2021-04-12")),
                Some(&token),
                clean,
                60,
            )
            .await;
        assert_eq!(
            ack.code,
            rumqttc::mqttbytes::v4::ConnectReturnCode::Success,
            "{id} should connect"
        );
        raw
    }

    /// Waits until the trace holds an event of `kind` for `device`.
    pub async fn traced(&self, device: &str, kind: &str) -> Vec<hublet_core::TraceEvent> {
        for _ in 0..500 {
            self.hub.trace().flush().await.unwrap();
            let q = hublet_core::TraceQuery {
                device_id: Some(device.into()),
                kinds: vec![kind.into()],
                ..Default::default()
            };
            let evs = self.hub.trace().query(q).await.unwrap();
            if !evs.is_empty() {
                return evs;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {kind} event for {device}");
    }
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A client that speaks raw MQTT packets.
pub struct Raw {
    pub framed: Framed<Box<dyn Io>, Codec>,
}

impl Raw {
    pub fn new(s: Box<dyn Io>) -> Raw {
        Raw {
            framed: Framed::new(
                s,
                Codec {
                    max_incoming_size: 1 << 20,
                    max_outgoing_size: 1 << 20,
                },
            ),
        }
    }

    pub async fn send(&mut self, p: Packet) {
        self.framed.send(p).await.unwrap();
    }

    /// The next packet, `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<Packet> {
        match tokio::time::timeout(Duration::from_secs(5), self.framed.next()).await {
            Ok(Some(Ok(p))) => Some(p),
            Ok(Some(Err(_))) | Ok(None) => None,
            Err(_) => panic!("no packet within 5 s"),
        }
    }

    pub async fn connect(
        &mut self,
        id: &str,
        user: Option<&str>,
        password: Option<&str>,
        clean: bool,
        keep_alive: u16,
    ) -> ConnAck {
        let mut c = Connect::new(id);
        c.clean_session = clean;
        c.keep_alive = keep_alive;
        if let Some(u) = user {
            c.login = Some(Login::new(u, password.unwrap_or("")));
        }
        self.send(Packet::Connect(c)).await;
        match self.recv().await {
            Some(Packet::ConnAck(a)) => a,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub async fn subscribe(
        &mut self,
        topics: &[&str],
    ) -> Vec<rumqttc::mqttbytes::v4::SubscribeReasonCode> {
        let mut s = rumqttc::mqttbytes::v4::Subscribe::new(topics[0], QoS::AtLeastOnce);
        for t in &topics[1..] {
            s.add(t.to_string(), QoS::AtLeastOnce);
        }
        s.pkid = 1;
        self.send(Packet::Subscribe(s)).await;
        match self.recv().await {
            Some(Packet::SubAck(a)) => a.return_codes,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub async fn publish(&mut self, topic: &str, qos: QoS, payload: &[u8]) {
        let mut p = rumqttc::mqttbytes::v4::Publish::new(topic, qos, payload.to_vec());
        if qos != QoS::AtMostOnce {
            p.pkid = 1;
        }
        self.send(Packet::Publish(p)).await;
    }

    pub async fn next_publish(&mut self) -> rumqttc::mqttbytes::v4::Publish {
        loop {
            match self.recv().await {
                Some(Packet::Publish(p)) => return p,
                Some(_) => continue,
                None => panic!("connection closed while waiting for a PUBLISH"),
            }
        }
    }

    /// True when the server closes the connection (reading until EOF).
    pub async fn closed(&mut self) -> bool {
        loop {
            match self.recv().await {
                None => return true,
                Some(_) => continue,
            }
        }
    }
}
