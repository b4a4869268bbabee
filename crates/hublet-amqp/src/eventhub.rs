//! The Event Hub-compatible endpoint on the AMQP listener: receiver links
//! on `{hub}/ConsumerGroups/{cg}/Partitions/{p}` read the engine's event
//! log (`hublet_core::events`) from the position their selector filter
//! names, and `$management` answers the Event Hubs SDKs' READ requests
//! for the hub and its partitions. Authorisation is the same CBS grant
//! as the service endpoint's (a policy with ServiceConnect).
//!
//! Events go out pre-settled (the Python SDK never settles them), one per
//! credit the reader grants, each with Event Hubs' and IoT Hub's
//! annotations (docs/semantics.md, "Device-to-cloud events").

use std::collections::BTreeSet;
use std::sync::Arc;

use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::types::definitions::{AmqpError, Error as AmqpErrorInfo};
use fe2o3_amqp::types::definitions::{Fields, LinkError};
use fe2o3_amqp::types::messaging::{
    AmqpValue, ApplicationProperties, Body, Data, DeliveryAnnotations, FilterSet, Message,
    MessageAnnotations, MessageId, Properties,
};
use fe2o3_amqp::types::primitives::{
    Array, Binary, OrderedMap, SimpleValue, Symbol, Timestamp, Value,
};
use hublet_core::Hub;
use hublet_core::events::{HubEvent, OwnerError, Position, ReaderLease};

use crate::auth::ConnAuth;
use crate::cbs::{Replies, reply, text};

/// The filter key the Event Hubs SDKs put their position under.
const SELECTOR: &str = "apache.org:selector-filter:string";

/// The consumer group and partition a receiver's source address names,
/// if it is this hub's Event Hub (`[amqps://host[:port]]/{hub}/ConsumerGroups/{cg}/Partitions/{p}`).
pub fn partition_address(address: &str, hub_name: &str) -> Option<(String, String)> {
    let path = crate::address::path_of(address).trim_matches('/');
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [hub, cg_word, cg, p_word, p]
            if hub.eq_ignore_ascii_case(hub_name)
                && cg_word.eq_ignore_ascii_case("consumergroups")
                && p_word.eq_ignore_ascii_case("partitions") =>
        {
            Some((cg.to_string(), p.to_string()))
        }
        _ => None,
    }
}

/// Where the Event Hub-compatible endpoint listens, for the redirect IoT
/// Hub answers on its own `messages/events` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsAt {
    /// The host clients dial (no port).
    pub host: String,
    /// The AMQP listener's port.
    pub port: u16,
}

impl EventsAt {
    /// IoT Hub's `amqp:link:redirect`: the Event Hub's host, port and the
    /// same node under the Event Hub's name
    /// (`amqps://{host}:{port}/{eventhub}/{rest}`, the port always written:
    /// the samples cut the name out of the address with it).
    pub fn redirect(&self, eh_name: &str, rest: &str) -> AmqpErrorInfo {
        let address = match rest {
            "" => format!("amqps://{}:{}/{eh_name}", self.host, self.port),
            rest => format!("amqps://{}:{}/{eh_name}/{rest}", self.host, self.port),
        };
        let mut info = Fields::new();
        for (k, v) in [
            ("hostname", Value::String(self.host.clone())),
            ("network-host", Value::String(self.host.clone())),
            ("port", Value::Int(i32::from(self.port))),
            ("address", Value::String(address)),
        ] {
            info.insert(Symbol::from(k), v);
        }
        AmqpErrorInfo::new(
            LinkError::Redirect,
            Some(format!(
                "messages/events is served by the Event Hub-compatible endpoint '{eh_name}' at {}:{}",
                self.host, self.port
            )),
            Some(info),
        )
    }
}

/// What follows IoT Hub's own `messages/events` in an address
/// (`$management`, `ConsumerGroups/{cg}/Partitions/{p}`, or nothing), if
/// the address is that node.
pub fn iothub_events_path(address: &str) -> Option<String> {
    let path = crate::address::path_of(address).trim_matches('/');
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(e), rest)
            if m.eq_ignore_ascii_case("messages") && e.eq_ignore_ascii_case("events") =>
        {
            Some(rest.unwrap_or("").to_string())
        }
        _ => None,
    }
}

/// Whether an address is the `$management` node.
pub fn is_management(address: &str) -> bool {
    crate::address::path_of(address)
        .trim_matches('/')
        .eq_ignore_ascii_case("$management")
}

/// The reader's start from its source filter: the selector's text, under
/// a symbol or ulong descriptor (each SDK uses one); none means the
/// earliest retained event.
pub fn position_of(filter: Option<&FilterSet>) -> Result<Position, String> {
    let Some(filter) = filter else {
        return Ok(Position::Earliest);
    };
    for (key, value) in filter.iter() {
        if !key.0.eq_ignore_ascii_case(SELECTOR) {
            continue;
        }
        let text = match value {
            Value::Described(d) => match &d.value {
                Value::String(s) => Some(s.clone()),
                _ => None,
            },
            Value::String(s) => Some(s.clone()),
            _ => None,
        };
        return match text {
            Some(t) => Position::parse_selector(&t).map_err(|e| e.to_string()),
            None => Err("the selector filter's value is not a string".into()),
        };
    }
    Ok(Position::Earliest)
}

/// The capability a reader desires to get the partition's last enqueued
/// event with each event (the SDKs' "track last enqueued event properties").
pub const RUNTIME_METRIC: &str = "com.microsoft:enable-receiver-runtime-metric";

/// Whether a reader's attach desires [`RUNTIME_METRIC`].
pub fn wants_runtime_metric(
    desired: Option<&fe2o3_amqp::types::primitives::Array<Symbol>>,
) -> bool {
    desired.is_some_and(|caps| caps.0.iter().any(|c| c.0 == RUNTIME_METRIC))
}

/// The partition's last enqueued event, as delivery annotations.
fn runtime_metric(info: &hublet_core::events::PartitionInfo, now: i64) -> DeliveryAnnotations {
    DeliveryAnnotations::builder()
        .insert(
            Symbol::from("last_enqueued_sequence_number"),
            Value::Long(info.last_sequence_number),
        )
        .insert(
            Symbol::from("last_enqueued_offset"),
            Value::String(info.last_offset.to_string()),
        )
        .insert(
            Symbol::from("last_enqueued_time_utc"),
            Value::Timestamp(Timestamp::from_milliseconds(
                info.last_enqueued_time.map(|t| t.0).unwrap_or(0),
            )),
        )
        .insert(
            Symbol::from("runtime_info_retrieval_time_utc"),
            Value::Timestamp(Timestamp::from_milliseconds(now)),
        )
        .build()
}

/// The reader's epoch (owner level), from its attach's
/// `com.microsoft:epoch` property.
pub fn epoch_of(properties: Option<&Fields>) -> Option<i64> {
    match properties?.get(&Symbol::from("com.microsoft:epoch"))? {
        Value::Long(n) => Some(*n),
        Value::Int(n) => Some(i64::from(*n)),
        Value::Uint(n) => Some(i64::from(*n)),
        Value::Ulong(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// Event Hubs' AMQP error for a refused or stolen reader.
pub fn owner_error(e: OwnerError) -> AmqpErrorInfo {
    match e {
        OwnerError::Stolen(text) => AmqpErrorInfo::new(LinkError::Stolen, Some(text), None),
        OwnerError::TooMany(text) => {
            AmqpErrorInfo::new(AmqpError::ResourceLimitExceeded, Some(text), None)
        }
    }
}

fn event_message(e: &HubEvent) -> Message<Body<Value>> {
    let p = &e.properties;
    let props = Properties {
        message_id: p.message_id.clone().map(MessageId::from),
        correlation_id: p.correlation_id.clone().map(MessageId::from),
        content_type: p.content_type.clone().map(Symbol::from),
        content_encoding: p.content_encoding.clone().map(Symbol::from),
        ..Properties::default()
    };
    let mut app = ApplicationProperties::builder();
    for (k, v) in &p.application {
        app = app.insert(
            k.clone(),
            SimpleValue::String(v.clone().unwrap_or_default()),
        );
    }
    let at = Timestamp::from_milliseconds(e.enqueued_time.0);
    let mut ann = MessageAnnotations::builder()
        .insert(
            Symbol::from("x-opt-sequence-number"),
            Value::Long(e.sequence_number),
        )
        .insert(
            Symbol::from("x-opt-offset"),
            Value::String(e.offset.to_string()),
        )
        .insert(
            Symbol::from("x-opt-enqueued-time"),
            Value::Timestamp(at.clone()),
        )
        .insert(
            Symbol::from("iothub-connection-device-id"),
            Value::String(e.device_id.clone()),
        )
        .insert(
            Symbol::from("iothub-connection-auth-method"),
            Value::String(
                r#"{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}"#
                    .into(),
            ),
        )
        .insert(Symbol::from("iothub-enqueuedtime"), Value::Timestamp(at))
        .insert(
            Symbol::from("iothub-message-source"),
            Value::String("Telemetry".into()),
        );
    if let Some(m) = &e.module_id {
        ann = ann.insert(
            Symbol::from("iothub-connection-module-id"),
            Value::String(m.clone()),
        );
    }
    Message::builder()
        .properties(props)
        .application_properties(app.build())
        .message_annotations(ann.build())
        .body(Body::Data(vec![Data(Binary::from(e.body.clone()))].into()))
        .build()
}

/// Serves one receiver link on a partition until it ends.
pub async fn serve_partition(
    hub: Hub,
    auth: Arc<ConnAuth>,
    mut link: Sender,
    partition: u32,
    from: Position,
    mut lease: ReaderLease,
    runtime_metric_wanted: bool,
) -> Option<String> {
    let mut reader = match hub
        .events()
        .reader(&[partition], from, BTreeSet::new())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let _ = link
                .close_with_error(AmqpErrorInfo::new(
                    AmqpError::InternalError,
                    Some(e.to_string()),
                    None,
                ))
                .await;
            return Some(e.to_string());
        }
    };
    // How many events to read ahead of the reader's credit: doubled while
    // every send goes straight out, back to one as soon as one has to wait
    // (fe2o3 does not show a sender its credit), so a reader that grants
    // no credit holds one event here, not a batch.
    let mut ahead = 1usize;
    loop {
        if auth.current().is_none() {
            let e =
                crate::errors::token_invalid("the token expired and no new one was put on $cbs");
            let reason = crate::errors::describe(&e);
            let _ = link.close_with_error(e).await;
            return Some(reason);
        }
        let batch = tokio::select! {
            b = reader.next_batch(ahead) => b,
            e = link.on_detach() => return crate::errors::end_reason(e),
            _ = auth.lapsed() => continue,
            e = lease.stolen() => {
                let reason = e.to_string();
                let _ = link.close_with_error(owner_error(e)).await;
                return Some(reason);
            }
        };
        let batch = match batch {
            Ok(Some(b)) => b,
            Ok(None) => return Some("the hub is shutting down".into()),
            Err(e) => return Some(e.to_string()),
        };
        // The partition's newest event, read once per batch, for readers
        // that track it.
        let metric = if runtime_metric_wanted {
            match hub.events().partition(partition).await {
                Ok(info) => Some(runtime_metric(&info, hub.now().0)),
                Err(e) => return Some(e.to_string()),
            }
        } else {
            None
        };
        let mut waited = false;
        for e in &batch {
            let mut message = event_message(e);
            message.delivery_annotations = metric.clone();
            let sendable = fe2o3_amqp::link::delivery::Sendable::builder()
                .message(message)
                .settled(true)
                .build();
            let stolen = {
                let send = link.send(sendable);
                tokio::pin!(send);
                // Polled once first: Pending means the reader's credit (or
                // the session's window) is used up.
                let sent = match futures::poll!(send.as_mut()) {
                    std::task::Poll::Ready(r) => Some(r),
                    std::task::Poll::Pending => None,
                };
                match sent {
                    Some(Ok(_)) => None,
                    Some(Err(err)) => return Some(format!("the reader's link ended: {err}")),
                    None => {
                        waited = true;
                        tokio::select! {
                            r = send => match r {
                                Ok(_) => None,
                                Err(err) => return Some(format!("the reader's link ended: {err}")),
                            },
                            e = lease.stolen() => Some(e),
                        }
                    }
                }
            };
            if let Some(e) = stolen {
                let reason = e.to_string();
                let _ = link.close_with_error(owner_error(e)).await;
                return Some(reason);
            }
        }
        ahead = if waited { 1 } else { (ahead * 2).min(256) };
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = OrderedMap::new();
    for (k, v) in entries {
        m.insert(Value::String(k.into()), v);
    }
    Value::Map(m)
}

/// Answers one READ request.
async fn answer(hub: &Hub, auth: &ConnAuth, m: &Message<Body<Value>>) -> Message<AmqpValue<Value>> {
    let id = m.properties.as_ref().and_then(|p| p.message_id.clone());
    let app = m.application_properties.as_ref();
    let get = |k: &str| text(app.and_then(|a| a.0.get(k)));
    // A token on the request itself (both SDKs send one) also authorises.
    if auth.current().is_none()
        && let Some(t) = get("security_token")
        && auth.put_token(&t).is_err()
    {
        return reply(id, 401, "the token is not valid", Value::Null);
    }
    if auth.current().is_none() {
        return reply(id, 401, "no valid token was put on $cbs", Value::Null);
    }
    let ev = hub.events();
    let name = ev.name();
    match (get("operation").as_deref(), get("type").as_deref()) {
        (Some("READ"), Some("com.microsoft:eventhub")) => {
            let ids = ev
                .partition_ids()
                .into_iter()
                .map(Value::String)
                .collect::<Vec<_>>();
            let body = map(vec![
                ("name", Value::String(name)),
                ("type", Value::String("com.microsoft:eventhub".into())),
                (
                    "created_at",
                    Value::Timestamp(Timestamp::from_milliseconds(0)),
                ),
                (
                    "partition_count",
                    Value::Int(i32::try_from(ev.partition_count()).unwrap_or(0)),
                ),
                ("partition_ids", Value::Array(Array::from(ids))),
            ]);
            reply(id, 200, "OK", body)
        }
        (Some("READ"), Some("com.microsoft:partition")) => {
            let p = get("partition").unwrap_or_default();
            let Ok(pid) = ev.partition_id(&p) else {
                return reply(
                    id,
                    400,
                    "The specified partition is invalid for an EventHub partition sender or receiver.",
                    Value::Null,
                );
            };
            match ev.partition(pid).await {
                Ok(info) => {
                    let body = map(vec![
                        ("name", Value::String(name)),
                        ("type", Value::String("com.microsoft:partition".into())),
                        ("partition", Value::String(p)),
                        (
                            "begin_sequence_number",
                            Value::Long(info.begin_sequence_number),
                        ),
                        (
                            "last_enqueued_sequence_number",
                            Value::Long(info.last_sequence_number),
                        ),
                        (
                            "last_enqueued_offset",
                            Value::String(info.last_offset.to_string()),
                        ),
                        (
                            "last_enqueued_time_utc",
                            Value::Timestamp(Timestamp::from_milliseconds(
                                info.last_enqueued_time.map(|t| t.0).unwrap_or(0),
                            )),
                        ),
                        ("is_partition_empty", Value::Bool(info.is_empty)),
                    ]);
                    reply(id, 200, "OK", body)
                }
                Err(e) => reply(id, 500, e.to_string(), Value::Null),
            }
        }
        (op, ty) => reply(
            id,
            400,
            format!("unsupported $management request: operation {op:?}, type {ty:?}"),
            Value::Null,
        ),
    }
}

/// Serves `$management` requests on one link, replying through `replies`.
pub async fn serve_management(
    hub: Hub,
    auth: Arc<ConnAuth>,
    replies: Arc<Replies>,
    mut link: Receiver,
) -> Option<String> {
    loop {
        let d = match link.recv::<Body<Value>>().await {
            Ok(d) => d,
            Err(e) => return crate::errors::end_reason(e),
        };
        let answer = answer(&hub, &auth, d.message()).await;
        if link.accept(&d).await.is_err() {
            return Some("the $management link ended".into());
        }
        if replies.send(answer).await.is_err() {
            return Some("the connection is closing".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iot_hubs_own_events_address_is_recognised_in_every_spelling() {
        for (a, rest) in [
            (
                "amqps://localhost/messages/events/$management",
                "$management",
            ),
            (
                "/messages/events/ConsumerGroups/$Default/Partitions/0",
                "ConsumerGroups/$Default/Partitions/0",
            ),
            ("amqps://h:5671/Messages/Events", ""),
        ] {
            assert_eq!(iothub_events_path(a).as_deref(), Some(rest), "{a}");
        }
        assert_eq!(iothub_events_path("/messages/devicebound"), None);
        assert_eq!(
            iothub_events_path("hublet/ConsumerGroups/$Default/Partitions/0"),
            None
        );
    }

    #[test]
    fn the_redirect_names_the_event_hub_with_an_explicit_port() {
        let at = EventsAt {
            host: "localhost".into(),
            port: 5671,
        };
        let e = at.redirect("hublet", "$management");
        assert_eq!(e.condition, LinkError::Redirect.into());
        let info = e.info.expect("info");
        let get = |k: &str| info.get(&Symbol::from(k)).cloned();
        assert_eq!(
            get("address"),
            Some(Value::String(
                "amqps://localhost:5671/hublet/$management".into()
            ))
        );
        assert_eq!(get("hostname"), Some(Value::String("localhost".into())));
        assert_eq!(get("port"), Some(Value::Int(5671)));
    }
}
