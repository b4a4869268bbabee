//! A hub with the API on 127.0.0.1 (HTTP and HTTPS) and a test device.

use std::time::Duration;

use hublet_api::{ApiServer, AppState, Limits, SecurityConfig, ServerFacts};
use hublet_core::auth::sas;
use hublet_core::{AttachRequest, Hub, HubOptions, ManualClock, NewDevice, ToDevice};
use hublet_tls::LocalPki;
use reqwest::{Client, Method, RequestBuilder};
use tempfile::TempDir;

pub const TOKEN: &str = "test-token-0123456789";

pub struct Api {
    pub hub: Hub,
    pub clock: ManualClock,
    pub server: ApiServer,
    pub _pki: LocalPki,
    pub http: Client,
    pub https: Client,
    pub _dir: TempDir,
}

impl Api {
    pub async fn new() -> Api {
        Api::with_limits(Limits::default()).await
    }

    /// A hub whose API listeners use these connection limits.
    pub async fn with_limits(limits: Limits) -> Api {
        Api::build(limits, None).await
    }

    /// A hub whose database is capped at `pages` pages: a full disk on demand.
    pub async fn with_full_disk_at(pages: u64) -> Api {
        Api::build(Limits::default(), Some(pages)).await
    }

    async fn build(limits: Limits, max_pages: Option<u64>) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_2030();
        let mut opts = HubOptions::new(dir.path().join("hub.db"))
            .clock(clock.shared())
            .background_tasks(false);
        opts.max_database_pages = max_pages;
        let hub = Hub::open(opts).await.unwrap();
        let pki = LocalPki::load_or_create(&dir.path().join("tls"), &[]).unwrap();
        let state = AppState::new(
            hub.clone(),
            TOKEN.into(),
            SecurityConfig {
                allowed_hosts: vec!["bench.example".into()],
                allowed_origins: vec!["http://localhost:5173".into()],
            },
            ServerFacts {
                version: "test".into(),
                ca_pem: Some(pki.ca_pem().into()),
                ..ServerFacts::default()
            },
        )
        .with_serial(hublet_serial::SerialBridge::new(hub.clone()));
        let server = ApiServer::start(
            state.clone(),
            Some("127.0.0.1:0".parse().unwrap()),
            Some(("127.0.0.1:0".parse().unwrap(), pki.server_config().unwrap())),
            limits,
        )
        .await
        .unwrap();
        state.info.write().unwrap().listeners.https = server.https_addr().map(|a| a.to_string());
        let https = Client::builder()
            .use_preconfigured_tls(pki.client_config().unwrap().as_ref().clone())
            .build()
            .unwrap();
        Api {
            hub,
            clock,
            server,
            _pki: pki,
            http: Client::new(),
            https,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.server.http_addr().unwrap(), path)
    }

    pub fn https_url(&self, path: &str) -> String {
        format!(
            "https://localhost:{}{}",
            self.server.https_addr().unwrap().port(),
            path
        )
    }

    /// A request with the hub token.
    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        self.http.request(m, self.url(path)).bearer_auth(TOKEN)
    }

    pub async fn device(&self, id: &str) -> String {
        self.hub
            .registry()
            .create(NewDevice::named(id))
            .await
            .unwrap()
            .primary_key
    }

    pub fn device_token(&self, id: &str, key: &str) -> String {
        sas::create(
            &format!("localhost/devices/{id}"),
            key,
            None,
            self.hub.now().unix_seconds() + 3600,
        )
        .unwrap()
    }

    pub fn service_token(&self, policy: &str) -> String {
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
            self.hub.now().unix_seconds() + 3600,
        )
        .unwrap()
    }

    /// Attaches `id` and answers every method with `{"echo": payload}` and status 200.
    pub async fn echo_device(&self, id: &str) {
        let (att, mut rx) = self
            .hub
            .attach(id, AttachRequest::trusted("test", None, "test"))
            .await
            .unwrap();
        att.subscribe_methods();
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                if let ToDevice::Method(r) = item {
                    let p: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                    let body = serde_json::to_vec(&serde_json::json!({"echo": p})).unwrap();
                    att.respond(&r.request_id, 200, &body);
                }
            }
        });
    }

    pub async fn wait_sleepers(&self, n: usize) {
        for _ in 0..500 {
            if self.clock.sleepers() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("nobody waiting on the clock");
    }
}

/// The error body of `/api` answers.
pub async fn api_error(r: reqwest::Response) -> (u16, Option<u64>, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_u64(),
        v["error"]["name"].as_str().unwrap_or_default().to_string(),
    )
}

/// The errorCode inside IoT Hub's envelope, and the header.
pub async fn iothub_error(r: reqwest::Response) -> (u16, u64, String) {
    let status = r.status().as_u16();
    let header = r
        .headers()
        .get("iothub-errorcode")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let v: serde_json::Value = r.json().await.unwrap();
    let message = v["Message"].as_str().unwrap();
    // A method that did not complete: the number inside the message.
    if let Ok(inner) = serde_json::from_str::<serde_json::Value>(message) {
        return (status, inner["errorCode"].as_u64().unwrap(), header);
    }
    // Everything else: `ErrorCode:<Name>;<text>`, the name as in the header.
    let name = message
        .strip_prefix("ErrorCode:")
        .and_then(|m| m.split_once(';'))
        .map(|(name, _)| name)
        .unwrap_or_else(|| panic!("not IoT Hub's envelope: {message}"));
    assert_eq!(name, header, "the body and the header name different codes");
    let number = match name {
        "IotHubUnauthorizedAccess" => 401002,
        "InvalidProtocolVersion" => 400001,
        "NotFound" => 404000,
        _ => hublet_core::ErrorCode::ALL
            .iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("unknown code {name}"))
            .number(),
    };
    (status, u64::from(number), header)
}
