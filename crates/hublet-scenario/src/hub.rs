//! The hub as a scenario sees it: its REST API, nothing else. A scenario
//! runs the same against the hub of a local data directory, one in CI, or
//! the desktop app's, and checks what a back end would see.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a call to the hub failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    /// Nothing answered.
    #[error("no hub answers at {0}")]
    Unreachable(String),
    /// The hub refused, with IoT Hub's code when there is one.
    #[error("{}{name}: {message}", code.map(|c| format!("{c} ")).unwrap_or_default())]
    Refused {
        /// HTTP status.
        status: u16,
        /// IoT Hub's error code (404103, 403004, …).
        code: Option<u32>,
        /// Its name.
        name: String,
        /// What the hub said.
        message: String,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from the hub: {0}")]
    Garbled(String),
}

/// A connection to one hub's REST API.
#[derive(Clone)]
pub struct HubApi {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl HubApi {
    /// `base` is the API's root URL (`http://127.0.0.1:8480`); `http` a
    /// client already set up for the hub's TLS when `base` is `https`.
    pub fn new(base: impl Into<String>, token: impl Into<String>, http: reqwest::Client) -> Self {
        HubApi {
            base: base.into().trim_end_matches('/').to_string(),
            token: token.into(),
            http,
        }
    }

    /// A client of a hub's plain HTTP API.
    pub fn plain(base: impl Into<String>, token: impl Into<String>) -> Self {
        HubApi::new(base, token, reqwest::Client::new())
    }

    /// The API's root URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, HubError> {
        let mut rb = self
            .http
            .request(method, format!("{}/api{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb
            .send()
            .await
            .map_err(|_| HubError::Unreachable(self.base.clone()))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|_| HubError::Unreachable(self.base.clone()))?;
        if !(200..300).contains(&status) {
            return Err(
                match serde_json::from_str::<crate::wire::ErrorEnvelope>(&text) {
                    Ok(env) => HubError::Refused {
                        status,
                        code: env.error.code,
                        name: env.error.name,
                        message: env.error.message,
                    },
                    Err(_) => HubError::Refused {
                        status,
                        code: None,
                        name: format!("HTTP {status}"),
                        message: text,
                    },
                },
            );
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| HubError::Garbled(format!("{path}: {e}")))
    }

    /// `GET /api{path}`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, HubError> {
        self.call(Method::GET, path, query, None).await
    }

    /// `POST /api{path}` with a JSON body.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, HubError> {
        let v = serde_json::to_value(body).map_err(|e| HubError::Garbled(e.to_string()))?;
        self.call(Method::POST, path, &[], Some(&v)).await
    }

    /// `PATCH /api{path}` with a JSON body.
    pub async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, HubError> {
        self.call(Method::PATCH, path, &[], Some(body)).await
    }

    /// `PUT /api{path}` with a JSON body.
    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, HubError> {
        self.call(Method::PUT, path, &[], Some(body)).await
    }

    /// `DELETE /api{path}`.
    pub async fn delete(&self, path: &str) -> Result<Value, HubError> {
        self.call(Method::DELETE, path, &[], None).await
    }

    /// The newest trace event's id (0 for an empty trace): events after it
    /// happened after this call.
    pub async fn trace_watermark(&self) -> Result<i64, HubError> {
        let newest: Vec<Value> = self
            .get(
                "/trace",
                &[("newestFirst", "true".into()), ("limit", "1".into())],
            )
            .await?;
        Ok(newest.first().and_then(|e| e["id"].as_i64()).unwrap_or(0))
    }

    /// Trace events of one kind for one device after an id, oldest first.
    pub async fn trace_after(
        &self,
        device: &str,
        kind: &str,
        after: i64,
    ) -> Result<Vec<Value>, HubError> {
        self.get(
            "/trace",
            &[
                ("deviceId", device.to_string()),
                ("kind", kind.to_string()),
                ("afterId", after.to_string()),
                ("limit", "1000".into()),
            ],
        )
        .await
    }
}

/// One path segment, percent-encoded (device ids may hold `#`, `%`, …).
pub fn seg(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}
