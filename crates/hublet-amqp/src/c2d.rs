//! `/messages/devicebound`: C2D messages from the service.
//!
//! Each delivery goes through the same engine call and validation as the
//! REST send (`Mailbox::submit_via`), and is accepted only once it is
//! committed, or rejected with IoT Hub's error. Deliveries are queued for
//! the store in the order they arrive and their outcomes awaited in that
//! order, so a link with many deliveries in flight keeps each device's
//! order and shares group commits.
//!
//! Mapping (semantics reference 1.6, 1.7): `message-id`, `correlation-id`
//! (a string, or a ulong / uuid / binary shown as text), `user-id` (bytes as
//! UTF-8), `content-type`, `content-encoding`, `absolute-expiry-time`; the
//! application property `iothub-ack` is the ack mode and every other
//! application property is a message property, its value as text. The body is
//! the data sections' bytes (or an amqp-value string or binary).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use fe2o3_amqp::link::Receiver;
use fe2o3_amqp::link::delivery::DeliveryInfo;
use fe2o3_amqp::types::messaging::{Body, Message, MessageId};
use fe2o3_amqp::types::primitives::{SimpleValue, Value};
use hublet_core::{AckMode, C2dMessage, Hub, HubError, HubResult, NewMessage, Timestamp};

use crate::address::device_of;
use crate::auth::ConnAuth;
use crate::errors::{amqp_error, token_invalid};

/// Deliveries whose outcome is not yet known, at most.
const IN_FLIGHT: usize = 256;

/// A message id of any AMQP type, as text.
pub fn id_text(id: &MessageId) -> String {
    match id {
        MessageId::String(s) => s.clone(),
        MessageId::Ulong(n) => n.to_string(),
        MessageId::Uuid(u) => {
            let b: [u8; 16] = u.clone().into();
            uuid::Uuid::from_bytes(b).hyphenated().to_string()
        }
        MessageId::Binary(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn value_text(v: &SimpleValue) -> String {
    match v {
        SimpleValue::String(s) => s.clone(),
        SimpleValue::Symbol(s) => s.0.clone(),
        SimpleValue::Null => String::new(),
        SimpleValue::Bool(b) => b.to_string(),
        SimpleValue::Ubyte(n) => n.to_string(),
        SimpleValue::Ushort(n) => n.to_string(),
        SimpleValue::Uint(n) => n.to_string(),
        SimpleValue::Ulong(n) => n.to_string(),
        SimpleValue::Byte(n) => n.to_string(),
        SimpleValue::Short(n) => n.to_string(),
        SimpleValue::Int(n) => n.to_string(),
        SimpleValue::Long(n) => n.to_string(),
        SimpleValue::Float(n) => n.to_string(),
        SimpleValue::Double(n) => n.to_string(),
        SimpleValue::Char(c) => c.to_string(),
        SimpleValue::Timestamp(t) => Timestamp(t.milliseconds()).to_rfc3339(),
        SimpleValue::Uuid(u) => {
            let b: [u8; 16] = u.clone().into();
            uuid::Uuid::from_bytes(b).hyphenated().to_string()
        }
        SimpleValue::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

fn body_bytes(body: &Body<Value>) -> Result<Vec<u8>, HubError> {
    match body {
        Body::Data(sections) => Ok(sections.iter().flat_map(|d| d.0.iter().copied()).collect()),
        Body::Value(v) => match &v.0 {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Binary(b) => Ok(b.to_vec()),
            Value::Null => Ok(Vec::new()),
            other => Err(HubError::invalid(format!(
                "the message body must be data, a string or binary, not {other:?}"
            ))),
        },
        Body::Empty => Ok(Vec::new()),
        Body::Sequence(_) => Err(HubError::invalid(
            "the message body must be data, a string or binary, not an amqp-sequence",
        )),
    }
}

/// The device and the message an AMQP message asks for.
pub fn to_new_message(m: &Message<Body<Value>>) -> HubResult<(String, NewMessage)> {
    let props = m.properties.as_ref();
    let to = props.and_then(|p| p.to.as_deref()).ok_or_else(|| {
        HubError::invalid("the message has no 'to' (/devices/{id}/messages/devicebound)")
    })?;
    let device = device_of(to).map_err(HubError::invalid)?;
    let mut msg = NewMessage {
        body: body_bytes(&m.body)?,
        ..NewMessage::default()
    };
    if let Some(p) = props {
        msg.message_id = p.message_id.as_ref().map(id_text);
        msg.correlation_id = p.correlation_id.as_ref().map(id_text);
        msg.user_id = p
            .user_id
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        msg.content_type = p.content_type.as_ref().map(|s| s.0.clone());
        msg.content_encoding = p.content_encoding.as_ref().map(|s| s.0.clone());
        msg.expiry_time_utc = p
            .absolute_expiry_time
            .as_ref()
            .map(|t| Timestamp(t.milliseconds()));
    }
    let mut properties = BTreeMap::new();
    if let Some(ap) = &m.application_properties {
        for (k, v) in ap.0.iter() {
            if k.eq_ignore_ascii_case("iothub-ack") {
                msg.ack = AckMode::parse(&value_text(v))?;
            } else {
                properties.insert(k.clone(), value_text(v));
            }
        }
    }
    msg.properties = properties;
    Ok((device, msg))
}

type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = HubResult<C2dMessage>> + Send>>;

/// Serves one C2D link until it ends.
pub async fn serve(hub: Hub, auth: Arc<ConnAuth>, mut link: Receiver) -> Option<String> {
    let mut in_flight: VecDeque<(DeliveryInfo, Pending)> = VecDeque::new();
    loop {
        tokio::select! {
            biased;
            _ = auth.lapsed(), if in_flight.is_empty() => {
                let e = token_invalid("the token expired and no new one was put on $cbs");
                let reason = crate::errors::describe(&e);
                let _ = link.close_with_error(e).await;
                return Some(reason);
            }
            done = async { in_flight.front_mut().map(|(_, p)| p) .expect("checked non-empty").await }, if !in_flight.is_empty() => {
                let Some((info, _)) = in_flight.pop_front() else { continue };
                let r = match done {
                    Ok(_) => link.accept(info).await,
                    Err(e) => link.reject(info, amqp_error(&e)).await,
                };
                if r.is_err() {
                    return Some("the link ended while settling".into());
                }
            }
            d = link.recv::<Body<Value>>(), if in_flight.len() < IN_FLIGHT => {
                let d = match d {
                    Ok(d) => d,
                    Err(e) => return crate::errors::end_reason(e),
                };
                let info = DeliveryInfo::from(&d);
                if auth.current().is_none() {
                    let _ = link.reject(info, token_invalid("put a service token on $cbs first")).await;
                    continue;
                }
                let submitted = to_new_message(d.message()).and_then(|(device, msg)| {
                    hub.mailbox().submit_via(&device, msg, Some(auth.via()))
                });
                let pending: Pending = match submitted {
                    Ok(f) => Box::pin(f),
                    Err(e) => Box::pin(async move { Err(e) }),
                };
                in_flight.push_back((info, pending));
            }
        }
    }
}
