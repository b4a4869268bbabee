//! The REST client every command but `serve` uses. It speaks the same DTOs
//! as the server (`hublet_api::dto`).

use std::path::Path;

use hublet_api::dto::ApiErrorEnvelope;
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::command::Global;
use hublet_server::hubfile;

/// Why a call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The hub answered with an error.
    Api {
        status: u16,
        code: Option<u32>,
        name: String,
        message: String,
        /// A failed method call's request id (`hublet trace --correlation ID`).
        request_id: Option<String>,
    },
    /// No hub to talk to.
    NoHub(String),
    /// A command-level failure with its exit code.
    Exit(u8, String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Api {
                code,
                name,
                message,
                ..
            } => match code {
                Some(c) => write!(f, "{c} {name}: {message}"),
                None => write!(f, "{name}: {message}"),
            },
            ClientError::NoHub(m) | ClientError::Exit(_, m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to one hub's API.
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// Finds the hub: `--hub`/`--token` (or `HUBLET_HUB`/`HUBLET_TOKEN`), else
    /// the data directory's `hub.json` and `api-token`.
    pub fn connect(g: &Global) -> anyhow::Result<Client> {
        let dir = g.data_dir();
        let base = match &g.hub {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let f = hubfile::read(&dir).ok_or_else(|| {
                    ClientError::NoHub(format!(
                        "no hub is running on {} (start one with `hublet serve`, or pass --hub URL --token TOKEN)",
                        dir.display()
                    ))
                })?;
                f.api.or(f.https).ok_or_else(|| {
                    ClientError::NoHub("the running hub has no API listener".into())
                })?
            }
        };
        let token = match &g.token {
            Some(t) => t.clone(),
            None => hubfile::token(&dir, false)?.ok_or_else(|| {
                ClientError::NoHub(format!(
                    "no API token in {} (pass --token)",
                    dir.join(hubfile::TOKEN_FILE).display()
                ))
            })?,
        };
        let mut builder = reqwest::Client::builder();
        if base.starts_with("https://") {
            builder = builder.use_preconfigured_tls(tls_config(&dir)?);
        }
        Ok(Client {
            base,
            token,
            http: builder.build()?,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
    }

    /// Sends and turns transport failures and API errors into [`ClientError`].
    pub async fn send(&self, rb: RequestBuilder) -> anyhow::Result<Response> {
        let resp = rb.send().await.map_err(|e| {
            ClientError::NoHub(format!("cannot reach the hub at {}: {e}", self.base))
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ApiErrorEnvelope>(&text) {
            Ok(env) => ClientError::Api {
                status,
                code: env.error.code,
                name: env.error.name,
                message: env.error.message,
                request_id: env.error.request_id,
            },
            Err(_) => ClientError::Api {
                status,
                code: None,
                name: format!("HTTP {status}"),
                message: text,
                request_id: None,
            },
        }
        .into())
    }

    /// GET with query parameters, JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        Ok(self
            .send(self.request(Method::GET, path).query(query))
            .await?
            .json()
            .await?)
    }

    /// A raw GET (streams: SSE, exports, PEM).
    pub async fn get_raw(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Response> {
        self.send(self.request(Method::GET, path).query(query))
            .await
    }

    /// A request with a JSON body and a JSON answer.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        Ok(self
            .send(self.request(method, path).json(body))
            .await?
            .json()
            .await?)
    }

    /// DELETE with a JSON answer.
    pub async fn delete_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        Ok(self
            .send(self.request(Method::DELETE, path))
            .await?
            .json()
            .await?)
    }

    /// A request with a JSON body whose answer has no body.
    pub async fn call_no_answer<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<()> {
        self.send(self.request(method, path).json(body)).await?;
        Ok(())
    }

    /// A request whose answer has no body (or one we ignore).
    pub async fn call_empty(&self, method: Method, path: &str) -> anyhow::Result<()> {
        self.send(self.request(method, path)).await?;
        Ok(())
    }
}

fn tls_config(dir: &Path) -> anyhow::Result<rustls::ClientConfig> {
    let ca = dir.join("tls").join("ca.pem");
    let pem = std::fs::read_to_string(&ca)
        .map_err(|e| anyhow::anyhow!("cannot read the hub's CA {}: {e}", ca.display()))?;
    Ok(hublet_tls::client_config_for_ca(&pem, &ca)?
        .as_ref()
        .clone())
}

/// Percent-encodes one path segment (device ids may hold `#`, `?`, `%`...).
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
