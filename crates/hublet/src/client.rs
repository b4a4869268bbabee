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
    Api(Box<ApiFailure>),
    /// No hub to talk to.
    NoHub(String),
    /// A command-level failure with its exit code.
    Exit(u8, String),
    /// The command printed its result already (one JSON document with
    /// `--json`), but the outcome fails: exit with the code, and say why
    /// on standard error when not in JSON mode.
    Reported(u8, String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Api(a) => match a.code {
                Some(c) => write!(f, "{c} {}: {}", a.name, a.message),
                None => write!(f, "{}: {}", a.name, a.message),
            },
            ClientError::NoHub(m) | ClientError::Exit(_, m) | ClientError::Reported(_, m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// An error the hub answered with.
#[derive(Debug)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// IoT Hub's code, when there is one.
    pub code: Option<u32>,
    /// IoT Hub's (or Hublet's) name for it.
    pub name: String,
    /// What went wrong.
    pub message: String,
    /// The hub's one sentence on what the code means.
    pub explanation: String,
    /// A failed method call's request id (`hublet trace --correlation ID`).
    pub request_id: Option<String>,
    /// Structured detail (the field at fault, a timeout).
    pub info: Option<hublet_api::dto::ErrorInfo>,
}

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
            Some(u) => hub_url(u)?,
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

    /// The same hub, as the scenario runner's API client.
    pub fn scenario_api(&self) -> hublet_scenario::HubApi {
        hublet_scenario::HubApi::new(self.base.clone(), self.token.clone(), self.http.clone())
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
    }

    /// Sends and turns transport failures and API errors into [`ClientError`].
    pub async fn send(&self, rb: RequestBuilder) -> anyhow::Result<Response> {
        let resp = rb.send().await.map_err(|e| {
            let why = if e.is_connect() {
                "nothing answers there; the hub may have stopped (start it with `hublet serve`)"
            } else if e.is_timeout() {
                "it did not answer in time"
            } else {
                "the connection failed"
            };
            ClientError::NoHub(format!("no hub answers at {}: {why}", self.base))
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ApiErrorEnvelope>(&text) {
            Ok(env) => ClientError::Api(Box::new(ApiFailure {
                status,
                code: env.error.code,
                name: env.error.name,
                message: env.error.message,
                explanation: env.error.explanation,
                request_id: env.error.request_id,
                info: env.error.info,
            })),
            Err(_) => ClientError::Api(Box::new(ApiFailure {
                status,
                code: None,
                name: format!("HTTP {status}"),
                message: text,
                explanation: String::new(),
                request_id: None,
                info: None,
            })),
        }
        .into())
    }

    /// A request to IoT Hub's HTTP device endpoints, authenticated as the
    /// device (its SAS token), not with the API token.
    pub async fn device_call(
        &self,
        method: Method,
        path: &str,
        sas: &str,
    ) -> anyhow::Result<Response> {
        let rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .query(&[("api-version", "2020-03-13")])
            .header(reqwest::header::AUTHORIZATION, sas);
        let resp = rb.send().await.map_err(|_| {
            ClientError::NoHub(format!(
                "no hub answers at {}: it may have stopped (start it with `hublet serve`)",
                self.base
            ))
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let code = resp
            .headers()
            .get("iothub-errorcode")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.unwrap_or_default();
        // IoT Hub's envelope: {"Message": "ErrorCode:Name;text" or JSON, ...}.
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["Message"].as_str().map(iothub_message))
            .unwrap_or(text);
        Err(ClientError::Api(Box::new(ApiFailure {
            status,
            code: None,
            name: code.unwrap_or_else(|| format!("HTTP {status}")),
            message,
            explanation: String::new(),
            request_id: None,
            info: None,
        }))
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

/// `--hub` as a base URL: `http://` is assumed when no scheme is given
/// (`127.0.0.1:8480`); anything that is not a URL is refused, saying why.
pub fn hub_url(given: &str) -> Result<String, ClientError> {
    let t = given.trim().trim_end_matches('/');
    let with_scheme = if t.contains("://") {
        t.to_string()
    } else {
        format!("http://{t}")
    };
    match reqwest::Url::parse(&with_scheme) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(with_scheme),
        _ => Err(ClientError::Exit(
            crate::exit::codes::BAD_INPUT,
            format!(
                "--hub '{given}' is not a hub address: give host:port or an http(s):// URL, e.g. http://127.0.0.1:8480"
            ),
        )),
    }
}

/// Percent-encodes one path segment (device ids may hold `#`, `?`, `%`...).
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The human text inside IoT Hub's `Message`: after `ErrorCode:<Name>;`, or
/// the `message` of the JSON form.
fn iothub_message(m: &str) -> String {
    if let Some((_, text)) = m.strip_prefix("ErrorCode:").and_then(|r| r.split_once(';')) {
        return text.to_string();
    }
    serde_json::from_str::<serde_json::Value>(m)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| m.to_string())
}
