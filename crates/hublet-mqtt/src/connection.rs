//! One device connection: the CONNECT handshake, then a loop that carries
//! packets between the socket, the device's [`Session`] and its hub
//! [`Attachment`]. The loop only translates; every hub rule lives in the
//! core and every MQTT rule in [`Session`] and [`crate::topics`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hublet_core::trace::detail::DeviceProtocol;
use hublet_core::trace::{BodyPreview, NewEvent, TraceDetail};
use hublet_core::{AttachRequest, Attachment, DetachReason, Hub, Telemetry, ToDevice};
use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, Connect, ConnectReturnCode, Packet, PubAck, Publish, SubAck, UnsubAck,
};
use rumqttc::mqttbytes::{Error as CodecError, Protocol, QoS};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::codec::Framed;

use crate::GatewayConfig;
use crate::session::{Changes, Persisted, Session};
use crate::topics::{Filter, Inbound, Violation, parse_publish, parse_username};
use hublet_core::property_bag as bag;

/// Largest packet a device may send: 256 KB of telemetry plus its topic.
const MAX_INCOMING: usize = 256 * 1024 + 16 * 1024;
/// Largest packet the hub sends (a 64 KB C2D message with a long bag, or a 128 KB method payload).
const MAX_OUTGOING: usize = 256 * 1024;
/// IoT Hub's cap on the server-side keep-alive (the Azure load balancer's idle limit).
const MAX_KEEP_ALIVE: Duration = Duration::from_secs(1767);
/// Namespace of persisted sessions in the hub's adapter state.
pub(crate) const STATE_NAMESPACE: &str = "mqtt";

/// What the connection task shares with the server.
pub(crate) struct Shared {
    pub hub: Hub,
    pub config: GatewayConfig,
    pub cancel: tokio_util::sync::CancellationToken,
}

/// How a connection ended.
enum End {
    /// The device sent DISCONNECT.
    Graceful,
    /// The socket closed or failed.
    Lost(String),
    /// The device broke a rule.
    Violation(String),
    /// Nothing arrived within 1.5 x keep-alive.
    KeepAlive,
    /// The hub ended the attachment.
    Hub(DetachReason),
}

type Conn<S> = Framed<S, Codec>;

/// PUBACKs owed, in the order of their PUBLISHes (MQTT 3.1.1, 4.6): a
/// telemetry message's once it is committed to the event log, any other's
/// at once. Commits finish in queue order, so the head is always the
/// first to be ready and nothing waits behind a later message.
type Acks = futures::stream::FuturesOrdered<
    std::pin::Pin<Box<dyn std::future::Future<Output = (u16, hublet_core::HubResult<()>)> + Send>>,
>;

/// Completions queued by PUBACKs, awaited only to report a failure: the
/// connection goes on reading while they commit.
type Settles = futures::stream::FuturesUnordered<
    std::pin::Pin<Box<dyn std::future::Future<Output = (u16, hublet_core::HubResult<()>)> + Send>>,
>;

/// The notice for a PUBACK whose message could not be completed.
fn late_puback(att: &Attachment, pkid: u16, e: &hublet_core::HubError) -> DeviceProtocol {
    let mut notice = DeviceProtocol::new(
        att.transport(),
        format!(
            "PUBACK arrived after the message's lock ended; the message was not completed by it ({e})"
        ),
    );
    notice.code = Some(e.code().number());
    notice.packet_id = Some(pkid);
    notice
}

/// Serves one accepted connection until it ends.
pub(crate) async fn serve<S>(
    stream: S,
    remote: String,
    transport: &'static str,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let codec = Codec {
        max_incoming_size: MAX_INCOMING,
        max_outgoing_size: MAX_OUTGOING,
    };
    // Small initial buffers: most devices idle, and buffers grow when a big packet comes.
    let mut conn = Framed::with_capacity(stream, codec, 512);
    // A connection's task lives as long as the device stays connected, and
    // an async fn's state is as large as its largest await: the steps that
    // run once (handshake, attach, detach) are boxed, so an idle
    // connection holds only the state of its read loop (docs/benchmarks.md,
    // "Server memory per idle connection").
    let Some(connect) = Box::pin(handshake_packet(&mut conn, &remote, &shared)).await else {
        return;
    };
    let Some((att, rx, mut session)) = Box::pin(accept(
        &mut conn,
        connect.clone(),
        &remote,
        transport,
        &shared,
    ))
    .await
    else {
        return;
    };
    let end = run(&mut conn, &att, rx, &mut session, &connect, &shared).await;
    Box::pin(finish(conn, att, end, &connect)).await;
}

fn hub_notice(shared: &Shared, device: Option<&str>, what: &str, remote: &str) {
    let mut notice = DeviceProtocol::new("mqtt", what);
    notice.remote = Some(remote.to_string());
    let detail = TraceDetail::DeviceProtocol(notice);
    let ev = match device {
        Some(d) => NewEvent::new(d, detail),
        None => NewEvent::hub(detail),
    };
    shared.hub.trace().append(ev);
}

/// Waits (boundedly) for the first packet, which must be a CONNECT.
async fn handshake_packet<S>(conn: &mut Conn<S>, remote: &str, shared: &Shared) -> Option<Connect>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let clock = shared.hub.clock().clone();
    let first = tokio::select! {
        p = conn.next() => p,
        _ = clock.sleep(shared.config.connect_timeout) => {
            hub_notice(shared, None, "no CONNECT within the connect timeout; connection closed", remote);
            return None;
        }
        _ = shared.cancel.cancelled() => return None,
    };
    match first {
        Some(Ok(Packet::Connect(c))) if c.protocol == Protocol::V4 => Some(c),
        Some(Ok(Packet::Connect(_)))
        | Some(Err(CodecError::InvalidProtocolLevel(_) | CodecError::InvalidProtocol)) => {
            hub_notice(
                shared,
                None,
                "CONNECT is not MQTT 3.1.1; refused with CONNACK 1",
                remote,
            );
            refuse(conn, ConnectReturnCode::RefusedProtocolVersion).await;
            None
        }
        Some(Ok(other)) => {
            hub_notice(
                shared,
                None,
                &format!("{} before CONNECT; connection closed", packet_name(&other)),
                remote,
            );
            None
        }
        Some(Err(e)) => {
            hub_notice(
                shared,
                None,
                &format!("malformed first packet ({e}); connection closed"),
                remote,
            );
            None
        }
        None => None,
    }
}

async fn refuse<S>(conn: &mut Conn<S>, code: ConnectReturnCode)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let _ = conn.send(Packet::ConnAck(ConnAck::new(code, false))).await;
    let _ = conn.get_mut().shutdown().await;
}

/// Authenticates, attaches, restores the session and sends CONNACK.
async fn accept<S>(
    conn: &mut Conn<S>,
    c: Connect,
    remote: &str,
    transport: &'static str,
    shared: &Shared,
) -> Option<(Attachment, UnboundedReceiver<ToDevice>, Session)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let hub = &shared.hub;
    // A device's client id is its id; a module's is `{device}/{module}`,
    // which is also the module's identity key in the hub.
    let device = c.client_id.clone();
    let Ok(who) = hublet_core::ids::Identity::parse(&device) else {
        let why = format!(
            "client id '{}' is not a valid device id (or device/module pair)",
            device.escape_default()
        );
        hub_notice(
            shared,
            None,
            &format!("{why}; refused with CONNACK 2"),
            remote,
        );
        refuse(conn, ConnectReturnCode::BadClientId).await;
        return None;
    };
    let (username, password) = match &c.login {
        Some(l) => (Some(l.username.as_str()), l.password.as_str()),
        None => (None, ""),
    };
    let mut model_id = None;
    if let Some(u) = username {
        match parse_username(u) {
            Ok(u)
                if u.device == who.device.as_str()
                    && u.module.as_deref() == who.module.as_ref().map(|m| m.as_str()) =>
            {
                // IoT Plug and Play: the model the device says it implements.
                model_id = u.query.get("model-id").filter(|m| !m.is_empty()).cloned();
            }
            Ok(u) => {
                let why = format!(
                    "user name names device '{}'{} but the client id is '{device}'; refused with CONNACK 5",
                    u.device,
                    u.module
                        .map(|m| format!(" module '{m}'"))
                        .unwrap_or_default()
                );
                hub_notice(shared, Some(&device), &why, remote);
                refuse(conn, ConnectReturnCode::NotAuthorized).await;
                return None;
            }
            Err(v) => {
                hub_notice(
                    shared,
                    Some(&device),
                    &format!("{v}; refused with CONNACK 5"),
                    remote,
                );
                refuse(conn, ConnectReturnCode::NotAuthorized).await;
                return None;
            }
        }
    }
    let request = if !password.is_empty() {
        AttachRequest::sas(transport, Some(remote.to_string()), password)
    } else if hub.settings().open_bench {
        AttachRequest::trusted(
            transport,
            Some(remote.to_string()),
            "open bench: connected without a SAS token",
        )
    } else {
        hub_notice(
            shared,
            Some(&device),
            "no SAS token in the password (open bench is off); refused with CONNACK 5",
            remote,
        );
        refuse(conn, ConnectReturnCode::NotAuthorized).await;
        return None;
    };
    let (att, rx) = match hub.attach(&device, request).await {
        Ok(a) => a,
        Err(e) => {
            let code = if e.code() == hublet_core::ErrorCode::ServerError {
                ConnectReturnCode::ServiceUnavailable
            } else {
                ConnectReturnCode::NotAuthorized
            };
            refuse(conn, code).await;
            return None;
        }
    };
    if let Some(m) = model_id
        && let Err(e) = att.set_model_id(&m).await
    {
        tracing::warn!(device, "could not store the model id: {e}");
    }
    let state = hub.adapter_state(STATE_NAMESPACE);
    let stored = if c.clean_session {
        if let Err(e) = state.remove(&device).await {
            tracing::warn!(device, "could not clear the stored session: {e}");
        }
        None
    } else {
        match state.get(&device).await {
            Ok(v) => v.and_then(|v| serde_json::from_value::<Persisted>(v).ok()),
            Err(e) => {
                tracing::warn!(device, "could not load the stored session: {e}");
                None
            }
        }
    };
    let session = Session::new(&device, c.clean_session, stored);
    if conn
        .send(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            session.session_present(),
        )))
        .await
        .is_err()
    {
        att.detach(DetachReason::ConnectionLost(
            "CONNACK could not be sent".into(),
        ))
        .await;
        return None;
    }
    if session.is_persistent() {
        apply(
            &att,
            &Changes {
                c2d: session.has(&Filter::C2d).then_some(true),
                methods: Some(session.method_filter()),
                twin_desired: session.has(&Filter::TwinDesired).then_some(true),
            },
            shared,
        );
    }
    Some((att, rx, session))
}

/// Carries session changes to the hub.
fn apply(att: &Attachment, ch: &Changes, shared: &Shared) {
    match ch.c2d {
        Some(true) => {
            if let Err(e) = att.subscribe_c2d(shared.config.c2d_inflight) {
                tracing::warn!("C2D subscription failed: {e}");
            }
        }
        Some(false) => {
            let _ = att.unsubscribe_c2d();
        }
        None => {}
    }
    if let Some(f) = &ch.methods {
        att.set_method_filter(f.clone());
    }
    match ch.twin_desired {
        Some(true) => att.subscribe_twin_desired(),
        Some(false) => att.unsubscribe_twin_desired(),
        None => {}
    }
}

/// Server-side keep-alive: 1.5 x the client's, capped at 1767 s; a client
/// keep-alive of 0 ("off" in MQTT 3.1.1) gets the cap, as IoT Hub's gateway does.
pub fn keep_alive_allowance(client_secs: u16) -> Duration {
    if client_secs == 0 {
        return MAX_KEEP_ALIVE;
    }
    Duration::from_millis(u64::from(client_secs) * 1500).min(MAX_KEEP_ALIVE)
}

async fn run<S>(
    conn: &mut Conn<S>,
    att: &Attachment,
    mut rx: UnboundedReceiver<ToDevice>,
    session: &mut Session,
    connect: &Connect,
    shared: &Shared,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let clock = shared.hub.clock().clone();
    let allowance = keep_alive_allowance(connect.keep_alive);
    let mut deadline = clock.now().plus(allowance);
    // One timer for the keep-alive, set again only when it goes off before
    // the deadline (which every packet from the device moves on): a timer
    // per turn of this loop cost an allocation and two trips through the
    // runtime's timer lock for every packet in either direction.
    let mut keep_alive = clock.sleep_until(deadline);
    let mut acks = Acks::new();
    let mut settles = Settles::new();
    loop {
        tokio::select! {
            _ = shared.cancel.cancelled() => return End::Hub(DetachReason::Shutdown),
            Some((pkid, done)) = futures::StreamExt::next(&mut settles), if !settles.is_empty() => {
                if let Err(e) = done {
                    att.protocol_event(late_puback(att, pkid, &e));
                }
            }
            Some((pkid, stored)) = futures::StreamExt::next(&mut acks), if !acks.is_empty() => {
                if let Err(e) = stored {
                    // Not acknowledged: the device sends it again.
                    return End::Lost(format!("the hub could not store a message ({e}); it was not acknowledged"));
                }
                if let Err(e) = conn.send(Packet::PubAck(PubAck::new(pkid))).await {
                    return End::Lost(format!("write failed: {e}"));
                }
            }
            item = rx.recv() => {
                let out = match item {
                    Some(ToDevice::C2d(m)) => Packet::Publish(session.deliver(&m)),
                    Some(ToDevice::Method(r)) => {
                        let mut p = Publish::new(crate::topics::method_topic(&r.method_name, &r.request_id), QoS::AtMostOnce, Bytes::new());
                        p.payload = Bytes::from(r.payload);
                        Packet::Publish(p)
                    }
                    Some(ToDevice::DesiredPatch(body)) => {
                        let version = body.get("$version").and_then(|v| v.as_u64()).unwrap_or_default();
                        let mut p = Publish::new(format!("$iothub/twin/PATCH/properties/desired/?$version={version}"), QoS::AtMostOnce, Bytes::new());
                        p.payload = Bytes::from(body.to_string());
                        Packet::Publish(p)
                    }
                    Some(ToDevice::Close(reason)) => return End::Hub(*reason),
                    None => return End::Hub(DetachReason::Dropped),
                };
                if let Err(e) = conn.send(out).await {
                    return End::Lost(format!("write failed: {e}"));
                }
            }
            pkt = conn.next() => {
                deadline = clock.now().plus(allowance);
                let pkt = match pkt {
                    None => return End::Lost("the device closed the connection without DISCONNECT".into()),
                    Some(Err(e)) => return End::Violation(format!("malformed packet: {e}")),
                    Some(Ok(p)) => p,
                };
                att.touch();
                // Boxed for the time a packet is handled (see `serve`).
                match Box::pin(handle(pkt, conn, att, session, shared, &mut acks, &mut settles)).await {
                    Ok(None) => {}
                    Ok(Some(end)) => return end,
                    Err(v) => return End::Violation(v.0),
                }
            }
            _ = &mut keep_alive => {
                if clock.now() >= deadline {
                    return End::KeepAlive;
                }
                keep_alive = clock.sleep_until(deadline);
            }
        }
    }
}

/// Handles one packet from the device. `Ok(Some(end))` ends the connection.
async fn handle<S>(
    pkt: Packet,
    conn: &mut Conn<S>,
    att: &Attachment,
    session: &mut Session,
    shared: &Shared,
    acks: &mut Acks,
    settles: &mut Settles,
) -> Result<Option<End>, Violation>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let reply: Option<Packet> = match pkt {
        Packet::Publish(p) => {
            if p.qos == QoS::ExactlyOnce {
                return Err(Violation::new(format!(
                    "QoS 2 PUBLISH to '{}': IoT Hub supports QoS 0 and 1 only",
                    p.topic
                )));
            }
            let qos1 = p.qos == QoS::AtLeastOnce;
            let pkid = p.pkid;
            let mut stored = None;
            match parse_publish(att.device_id(), &p.topic)? {
                Inbound::Telemetry { bag } => {
                    let mut t = Telemetry::from_properties(bag::decode(&bag), p.payload.to_vec());
                    if p.retain {
                        t.properties
                            .insert("mqtt-retain".into(), Some("true".into()));
                    }
                    stored = Some(
                        att.telemetry(t)
                            .map_err(|e| Violation::new(e.to_string()))?,
                    );
                }
                Inbound::MethodResponse { status, request_id } => {
                    att.respond(&request_id, status, &p.payload);
                }
                Inbound::TwinGet { request_id } => {
                    let (status, version, body) = match att.twin().await {
                        Ok(twin) => ("200".to_string(), None, twin.to_string().into_bytes()),
                        Err(e) => twin_error(&e, att.now()),
                    };
                    if session.has(&Filter::TwinResponses) {
                        twin_reply(conn, &status, &request_id, version, body).await?;
                    }
                }
                Inbound::TwinPatchReported { request_id } => {
                    let result = match serde_json::from_slice::<serde_json::Value>(&p.payload) {
                        Ok(patch) => att.report(patch).await,
                        Err(e) => Err(hublet_core::HubError::invalid(format!(
                            "the reported-properties patch is not JSON: {e}"
                        ))),
                    };
                    let (status, version, body) = match result {
                        Ok(v) => ("204".to_string(), Some(v), Vec::new()),
                        Err(e) => {
                            let mut notice = DeviceProtocol::new(
                                att.transport(),
                                format!(
                                    "reported-properties patch (request {request_id}) refused: {e}"
                                ),
                            );
                            notice.code = Some(e.code().number());
                            notice.body = Some(BodyPreview::of(&p.payload, 4096));
                            att.protocol_event(notice);
                            twin_error(&e, att.now())
                        }
                    };
                    if session.has(&Filter::TwinResponses) {
                        twin_reply(conn, &status, &request_id, version, body).await?;
                    }
                }
            }
            if qos1 {
                acks.push_back(match stored {
                    Some(st) => Box::pin(async move { (pkid, st.committed().await) }),
                    None => Box::pin(std::future::ready((pkid, Ok(())))),
                });
            }
            None
        }
        Packet::PubAck(a) => {
            if let Some(token) = session.puback(a.pkid)? {
                let pkid = a.pkid;
                match att.complete_queued(&token) {
                    Ok(done) => settles.push(Box::pin(async move { (pkid, done.await) })),
                    Err(e) => att.protocol_event(late_puback(att, pkid, &e)),
                }
            }
            None
        }
        Packet::Subscribe(s) => {
            let filters: Vec<(String, QoS)> =
                s.filters.iter().map(|f| (f.path.clone(), f.qos)).collect();
            let (codes, changes) = session.subscribe(&filters)?;
            conn.send(Packet::SubAck(SubAck::new(s.pkid, codes)))
                .await
                .map_err(|e| Violation::new(format!("write failed: {e}")))?;
            apply(att, &changes, shared);
            persist(att, session, shared).await;
            None
        }
        Packet::Unsubscribe(u) => {
            let changes = session.unsubscribe(&u.topics);
            apply(att, &changes, shared);
            persist(att, session, shared).await;
            Some(Packet::UnsubAck(UnsubAck::new(u.pkid)))
        }
        Packet::PingReq => Some(Packet::PingResp),
        Packet::Disconnect => return Ok(Some(End::Graceful)),
        other => {
            return Err(Violation::new(format!(
                "{} is not allowed from a device here",
                packet_name(&other)
            )));
        }
    };
    if let Some(p) = reply {
        conn.send(p)
            .await
            .map_err(|e| Violation::new(format!("write failed: {e}")))?;
    }
    Ok(None)
}

/// An error on a twin response topic: its HTTP-like status and IoT Hub's
/// JSON body (the Node SDK reads failure from `errorCode` in the body only).
fn twin_error(
    e: &hublet_core::HubError,
    at: hublet_core::Timestamp,
) -> (String, Option<u64>, Vec<u8>) {
    (
        e.code().http_status().to_string(),
        None,
        e.device_body(at).to_string().into_bytes(),
    )
}

async fn twin_reply<S>(
    conn: &mut Conn<S>,
    status: &str,
    rid: &str,
    version: Option<u64>,
    body: Vec<u8>,
) -> Result<(), Violation>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut topic = format!("$iothub/twin/res/{status}/?$rid={}", bag::escape(rid));
    if let Some(v) = version {
        topic.push_str(&format!("&$version={v}"));
    }
    let mut p = Publish::new(topic, QoS::AtMostOnce, Bytes::new());
    p.payload = Bytes::from(body);
    conn.send(Packet::Publish(p))
        .await
        .map_err(|e| Violation::new(format!("write failed: {e}")))
}

async fn persist(att: &Attachment, session: &Session, shared: &Shared) {
    if !session.is_persistent() {
        return;
    }
    let value = serde_json::to_value(session.persisted()).unwrap_or_default();
    if let Err(e) = shared
        .hub
        .adapter_state(STATE_NAMESPACE)
        .put(att.device_id(), value)
        .await
    {
        tracing::warn!(
            device = att.device_id(),
            "could not store the MQTT session: {e}"
        );
    }
}

async fn finish<S>(mut conn: Conn<S>, att: Attachment, end: End, connect: &Connect)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (reason, will) = match end {
        End::Graceful => (DetachReason::Closed, false),
        End::Lost(e) => (DetachReason::ConnectionLost(e), true),
        End::Violation(v) => (DetachReason::ProtocolViolation(v), true),
        End::KeepAlive => (DetachReason::KeepAliveTimeout, true),
        End::Hub(DetachReason::Shutdown) => (DetachReason::Shutdown, false),
        End::Hub(r) => (r, true),
    };
    if will && let Some(w) = &connect.last_will {
        match parse_publish(att.device_id(), &w.topic) {
            Ok(Inbound::Telemetry { bag }) => {
                let mut t = Telemetry::from_properties(bag::decode(&bag), w.message.to_vec());
                t.properties
                    .insert("iothub-MessageType".into(), Some("Will".into()));
                if let Err(e) = att.telemetry(t) {
                    tracing::warn!("Will message dropped: {e}");
                }
            }
            _ => {
                let mut notice = DeviceProtocol::new(
                    att.transport(),
                    "Will message dropped: its topic is not this device's telemetry topic",
                );
                notice.topic = Some(w.topic.clone());
                att.protocol_event(notice);
            }
        }
    }
    let _ = conn.get_mut().shutdown().await;
    drop(conn);
    att.detach(reason).await;
}

fn packet_name(p: &Packet) -> &'static str {
    match p {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect => "DISCONNECT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_is_one_and_a_half_times_the_clients_capped_at_1767_s() {
        assert_eq!(keep_alive_allowance(60), Duration::from_secs(90));
        assert_eq!(keep_alive_allowance(1), Duration::from_millis(1500));
        assert_eq!(keep_alive_allowance(1200), Duration::from_secs(1767));
        assert_eq!(keep_alive_allowance(0), Duration::from_secs(1767));
    }
}
