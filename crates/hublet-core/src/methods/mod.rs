//! Direct methods (semantics reference section 3), independent of transport.
//!
//! [`Methods::invoke`] waits up to the connect timeout for the device to be
//! attached and subscribed to methods (404103 otherwise), hands the request
//! with a fresh request id to the device's attachment, and waits up to the
//! response timeout for the answer (504101 otherwise). Calls are correlated
//! by request id, so any number may be in flight to one device (up to
//! `methodInflightLimit`, 403800 beyond). If the device detaches mid-call, the
//! call fails at once (404104, or 400027 when a new connection replaced it).
//! A response that arrives after its call ended is traced and ignored.

pub(crate) mod request_ids;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::attach::{CallStart, MethodRequest, RawResponse, Responded, ToDevice};
use crate::error::{HubError, HubResult};
use crate::hub::Hub;
use crate::ids::{Identity, validate_method_name};
use crate::mailbox::TRACE_BODY_LIMIT;
use crate::trace::detail::{
    MethodDelivered, MethodFailed, MethodInvoked, MethodLateResponse, MethodResponded,
    MethodTimedOut,
};
use crate::trace::{BodyPreview, NewEvent, TraceDetail};

/// Largest request or response payload (IoT Hub: 128 KB).
pub const MAX_METHOD_PAYLOAD: usize = 128 * 1024;
/// Connect timeout range, seconds (IoT Hub: 0 to 300, default 0).
pub const CONNECT_TIMEOUT_RANGE: (u64, u64) = (0, 300);
/// Response timeout range, seconds (IoT Hub: 5 to 300, default 30).
pub const RESPONSE_TIMEOUT_RANGE: (u64, u64) = (5, 300);
/// Connect timeout when the caller gives none (IoT Hub: 0, the device must be online).
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 0;
/// Response timeout when the caller gives none (IoT Hub: 30 s).
pub const DEFAULT_RESPONSE_TIMEOUT: u64 = 30;

/// A direct method call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodCall {
    /// The method name.
    pub method_name: String,
    /// The JSON payload (`null` when there is none).
    #[serde(default)]
    pub payload: Value,
    /// Seconds to wait for the device to come online (0 to 300, default 0).
    #[serde(default, rename = "connectTimeoutInSeconds")]
    pub connect_timeout_secs: Option<u64>,
    /// Seconds to wait for the answer (5 to 300, default 30).
    #[serde(default, rename = "responseTimeoutInSeconds")]
    pub response_timeout_secs: Option<u64>,
}

impl MethodCall {
    /// A call with default timeouts.
    pub fn new(name: impl Into<String>, payload: Value) -> MethodCall {
        MethodCall {
            method_name: name.into(),
            payload,
            connect_timeout_secs: None,
            response_timeout_secs: None,
        }
    }

    /// Sets both timeouts.
    pub fn timeouts(mut self, connect_secs: u64, response_secs: u64) -> MethodCall {
        self.connect_timeout_secs = Some(connect_secs);
        self.response_timeout_secs = Some(response_secs);
        self
    }

    fn connect(&self) -> u64 {
        self.connect_timeout_secs.unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    fn response(&self) -> u64 {
        self.response_timeout_secs
            .unwrap_or(DEFAULT_RESPONSE_TIMEOUT)
    }

    /// Checks name, timeouts and payload size; returns the payload bytes.
    pub fn validate(&self) -> HubResult<Vec<u8>> {
        validate_method_name(&self.method_name)?;
        let (c, r) = (self.connect(), self.response());
        let (cmin, cmax) = CONNECT_TIMEOUT_RANGE;
        if !(cmin..=cmax).contains(&c) {
            return Err(HubError::invalid_field(
                "connectTimeoutInSeconds",
                format!("connectTimeoutInSeconds must be within [{cmin}; {cmax}], got {c}"),
            ));
        }
        let (rmin, rmax) = RESPONSE_TIMEOUT_RANGE;
        if !(rmin..=rmax).contains(&r) {
            return Err(HubError::invalid_field(
                "responseTimeoutInSeconds",
                format!("responseTimeoutInSeconds must be within [{rmin}; {rmax}], got {r}"),
            ));
        }
        let bytes = serde_json::to_vec(&self.payload)?;
        if bytes.len() > MAX_METHOD_PAYLOAD {
            return Err(HubError::TooLarge {
                what: "the method payload",
                size: bytes.len(),
                limit: MAX_METHOD_PAYLOAD,
            });
        }
        Ok(bytes)
    }
}

/// The device's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodResponse {
    /// The status the device returned.
    pub status: i32,
    /// The JSON the device returned (`null` for an empty body).
    pub payload: Value,
    /// The request id the call used.
    pub request_id: String,
    /// Time from sending the request to receiving the answer, milliseconds.
    pub latency_ms: f64,
}

/// A call that failed, and the request id its story is traced under
/// (`None` when it was refused before it got one: bad input, unknown device).
#[derive(Debug)]
pub struct MethodFailure {
    /// What went wrong, with its IoT Hub code.
    pub error: HubError,
    /// The call's request id, if it was admitted.
    pub request_id: Option<String>,
}

/// The method engine, reached through [`Hub::methods`].
pub struct Methods<'a> {
    pub(crate) hub: &'a Hub,
}

impl Methods<'_> {
    /// Calls a method on a device (or a module: `device/module`) and
    /// waits for its answer.
    pub async fn invoke(&self, device: &str, call: MethodCall) -> HubResult<MethodResponse> {
        self.call(device, call).await.map_err(|f| f.error)
    }

    /// Calls a method on one of a device's modules (IoT Hub's
    /// `POST /twins/{id}/modules/{mid}/methods`).
    pub async fn invoke_module(
        &self,
        device: &str,
        module: &str,
        call: MethodCall,
    ) -> HubResult<MethodResponse> {
        let who = Identity::module(device, module)?;
        self.invoke(&who.key(), call).await
    }

    /// [`invoke`](Self::invoke), with the request id of a failed call: the
    /// trace holds the call's story under it (invoked → timed out, ...), and
    /// a caller that shows the error wants to link to it.
    pub async fn call(
        &self,
        device: &str,
        call: MethodCall,
    ) -> Result<MethodResponse, MethodFailure> {
        let refused = |error| MethodFailure {
            error,
            request_id: None,
        };
        let payload = call.validate().map_err(refused)?;
        let who = Identity::parse(device).map_err(refused)?;
        let key = who.key();
        // An attached identity is registered (deleting one detaches it), so
        // only an unattached one needs the registry to tell 404001 / 404010
        // from 404103.
        if self.hub.inner.presence.current(&key).is_none() {
            match &who.module {
                None => self
                    .hub
                    .device_row(who.device.as_str())
                    .await
                    .map(drop)
                    .map_err(refused)?,
                Some(m) => self
                    .hub
                    .modules()
                    .get(who.device.as_str(), m.as_str())
                    .await
                    .map(drop)
                    .map_err(refused)?,
            }
        }
        let rid = self
            .hub
            .inner
            .request_ids
            .next(&self.hub.inner.db)
            .await
            .map_err(refused)?
            .to_string();
        self.run(&key, &call, payload, &rid)
            .await
            .map_err(|error| MethodFailure {
                error,
                request_id: Some(rid),
            })
    }

    /// One admitted call, traced under `rid`, from waiting for the device
    /// to its answer or the deadline.
    async fn run(
        &self,
        device: &str,
        call: &MethodCall,
        payload: Vec<u8>,
        rid: &str,
    ) -> HubResult<MethodResponse> {
        let hub = self.hub;
        let clock = hub.inner.clock.clone();
        let (connect_s, response_s) = (call.connect(), call.response());
        let trace = |detail: TraceDetail| {
            hub.inner
                .db
                .append(NewEvent::new(device, detail).request(rid));
        };
        trace(TraceDetail::MethodInvoked(MethodInvoked {
            method_name: call.method_name.clone(),
            payload: BodyPreview::of(&payload, TRACE_BODY_LIMIT),
            connect_timeout_in_seconds: connect_s,
            response_timeout_in_seconds: response_s,
        }));
        let fail = |e: HubError| {
            trace(TraceDetail::MethodFailed(MethodFailed {
                method_name: call.method_name.clone(),
                code: e.code().number(),
                error: e.to_string(),
            }));
            e
        };

        // Wait for the device to be online (attached and subscribed to methods).
        let connect_deadline = clock.now().plus(Duration::from_secs(connect_s));
        let limit = hub.settings().method_inflight_limit as usize;
        let online = hub.inner.presence.online_notify(device);
        let (reply_tx, reply_rx) = oneshot::channel::<HubResult<RawResponse>>();
        let mut reply_tx = Some(reply_tx);
        let tx = loop {
            let woken = online.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let Some(r) = reply_tx.take() else {
                return Err(fail(HubError::Internal(
                    "method call lost its reply channel".into(),
                )));
            };
            match hub
                .inner
                .presence
                .start_call(device, &call.method_name, rid, r, limit)
            {
                (CallStart::Started(tx), _) => break tx,
                (CallStart::TooMany, _) => {
                    return Err(fail(HubError::TooManyInflightMethods {
                        device: device.to_string(),
                        limit,
                    }));
                }
                (CallStart::NotOnline, back) => reply_tx = back,
            }
            if clock.now() >= connect_deadline {
                return Err(fail(HubError::DeviceNotOnline {
                    device: device.to_string(),
                    connect_timeout_s: connect_s,
                }));
            }
            tokio::select! {
                _ = &mut woken => {}
                _ = clock.sleep_until(connect_deadline) => {}
            }
        };

        let started = clock.monotonic();
        let request = MethodRequest {
            request_id: rid.to_string(),
            method_name: call.method_name.clone(),
            payload,
        };
        if tx.send(ToDevice::Method(Box::new(request))).is_err() {
            hub.inner.presence.take_call(device, rid);
            return Err(fail(HubError::DeviceDisconnected {
                device: device.to_string(),
                reason: "its transport closed".into(),
            }));
        }
        trace(TraceDetail::MethodDelivered(MethodDelivered {
            method_name: call.method_name.clone(),
        }));

        let response_deadline = clock.now().plus(Duration::from_secs(response_s));
        let mut reply_rx = reply_rx;
        let dropped = || Err(HubError::Internal("method call dropped".into()));
        let outcome = tokio::select! {
            r = &mut reply_rx => r.unwrap_or_else(|_| dropped()),
            _ = clock.sleep_until(response_deadline) => {
                if hub.inner.presence.take_call(device, rid).is_some() {
                    let e = HubError::MethodTimeout {
                        device: device.to_string(),
                        method: call.method_name.clone(),
                        response_timeout_s: response_s,
                    };
                    trace(TraceDetail::MethodTimedOut(MethodTimedOut {
                        method_name: call.method_name.clone(),
                        code: e.code().number(),
                        response_timeout_in_seconds: response_s,
                    }));
                    return Err(e);
                }
                // The answer won the race with the deadline; it is in the channel.
                (&mut reply_rx).await.unwrap_or_else(|_| dropped())
            }
        };
        let latency_ms = clock.monotonic().saturating_sub(started).as_secs_f64() * 1000.0;
        let raw = outcome.map_err(fail)?;
        let payload = parse_response(device, &call.method_name, &raw).map_err(fail)?;
        trace(TraceDetail::MethodResponded(MethodResponded {
            method_name: call.method_name.clone(),
            status: raw.status,
            payload: BodyPreview::of(&raw.body, TRACE_BODY_LIMIT),
            latency_ms,
        }));
        Ok(MethodResponse {
            status: raw.status,
            payload,
            request_id: rid.to_string(),
            latency_ms,
        })
    }

    /// Routes a device's answer to its waiting call.
    pub(crate) fn response(&self, device: &str, rid: &str, status: i32, body: &[u8]) -> Responded {
        match self.hub.inner.presence.take_call(device, rid) {
            Some(call) => {
                let _ = call.reply.send(Ok(RawResponse {
                    status,
                    body: body.to_vec(),
                }));
                Responded::Delivered
            }
            None => {
                let detail = TraceDetail::MethodLateResponse(MethodLateResponse {
                    status,
                    payload: BodyPreview::of(body, TRACE_BODY_LIMIT),
                    note: "no call was waiting for this request id (it timed out or never existed); ignored".into(),
                });
                self.hub
                    .inner
                    .db
                    .append(NewEvent::new(device, detail).request(rid));
                Responded::Late
            }
        }
    }
}

/// An empty body is `null`; anything else must be JSON.
fn parse_response(device: &str, method: &str, raw: &RawResponse) -> HubResult<Value> {
    if raw.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    if raw.body.len() > MAX_METHOD_PAYLOAD {
        return Err(HubError::TooLarge {
            what: "the device's method response",
            size: raw.body.len(),
            limit: MAX_METHOD_PAYLOAD,
        });
    }
    serde_json::from_slice(&raw.body).map_err(|_| HubError::InvalidDeviceResponse {
        device: device.to_string(),
        method: method.to_string(),
        status: raw.status,
        body_preview: String::from_utf8_lossy(&raw.body[..raw.body.len().min(200)]).into_owned(),
    })
}
