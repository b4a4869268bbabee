//! `$cbs`: claims-based security, the put-token exchange every service SDK
//! uses to authorize its connection.
//!
//! The client sends a request on a link *to* `$cbs` (application properties
//! `operation=put-token`, `type`, `name`; the body the token as an
//! amqp-value string) and reads the answer on a link *from* `$cbs`. The
//! answer's `correlation-id` is the request's `message-id` with the same AMQP
//! type (Node compares strings, uamqp ulongs, Java uuids), `status-code` is an
//! AMQP int (200, or 401) and `status-description` a string. The request is
//! accepted (settled) *before* the answer is sent: uamqp fails an answer that
//! arrives before its request's settlement.
//!
//! Answers go through a channel to whichever `$cbs` sender link the client
//! has attached, in either order, and survive a re-attach.

use std::sync::Arc;

use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::types::messaging::{
    AmqpValue, ApplicationProperties, Body, Message, MessageId, Properties,
};
use fe2o3_amqp::types::primitives::{SimpleValue, Value};
use tokio::sync::{Mutex, mpsc};

use crate::auth::ConnAuth;

/// Answers waiting for the client's `$cbs` receiver link.
#[derive(Debug)]
pub struct Replies {
    tx: mpsc::Sender<Message<AmqpValue<Value>>>,
    rx: Mutex<mpsc::Receiver<Message<AmqpValue<Value>>>>,
}

impl Replies {
    /// Queues a reply for the node's reply link.
    pub(crate) async fn send(&self, m: Message<AmqpValue<Value>>) -> Result<(), ()> {
        self.tx.send(m).await.map_err(drop)
    }

    pub(crate) fn new() -> Replies {
        let (tx, rx) = mpsc::channel(16);
        Replies {
            tx,
            rx: Mutex::new(rx),
        }
    }
}

/// An application property as text: a string, a symbol, or UTF-8 bytes
/// (the Event Hubs Python SDK sends `operation` and `type` as binary).
pub(crate) fn text(v: Option<&SimpleValue>) -> Option<String> {
    match v? {
        SimpleValue::String(s) => Some(s.clone()),
        SimpleValue::Symbol(s) => Some(s.0.clone()),
        SimpleValue::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// A request/response node's answer (`$cbs`, `$management`): the
/// request's message-id as correlation-id, `status-code` and
/// `status-description`, and `body` as an amqp-value.
pub(crate) fn reply(
    request_id: Option<MessageId>,
    status: i32,
    description: impl Into<String>,
    body: Value,
) -> Message<AmqpValue<Value>> {
    let props = Properties {
        correlation_id: request_id,
        ..Properties::default()
    };
    let app = ApplicationProperties::builder()
        .insert("status-code", SimpleValue::Int(status))
        .insert(
            "status-description",
            SimpleValue::String(description.into()),
        )
        .build();
    Message::builder()
        .properties(props)
        .application_properties(app)
        .value(body)
        .build()
}

/// Serves a `$cbs` request link (the client sends put-tokens) until it ends.
pub async fn serve_requests(
    auth: Arc<ConnAuth>,
    replies: Arc<Replies>,
    mut link: Receiver,
) -> Option<String> {
    loop {
        let d = match link.recv::<Body<Value>>().await {
            Ok(d) => d,
            Err(e) => return crate::errors::end_reason(e),
        };
        let m = d.message();
        let id = m.properties.as_ref().and_then(|p| p.message_id.clone());
        let app = m.application_properties.as_ref();
        let get = |k: &str| text(app.and_then(|a| a.0.get(k)));
        let operation = get("operation");
        let token = match &m.body {
            Body::Value(v) => match &v.0 {
                Value::String(s) => Some(s.clone()),
                Value::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            Body::Data(d) => Some(
                String::from_utf8_lossy(
                    &d.iter()
                        .flat_map(|x| x.0.iter().copied())
                        .collect::<Vec<u8>>(),
                )
                .into_owned(),
            ),
            _ => None,
        };
        // Settle the request before answering it (uamqp needs that order).
        if link.accept(&d).await.is_err() {
            return Some("the $cbs link ended".into());
        }
        let answer = match (operation.as_deref(), token) {
            (Some("put-token"), Some(token)) => match auth.put_token(&token) {
                Ok(_) => reply(id, 200, "OK", Value::Null),
                Err(e) => reply(id, 401, e.to_string(), Value::Null),
            },
            (Some("put-token"), None) => reply(
                id,
                400,
                "the put-token body must be the token, as a string",
                Value::Null,
            ),
            (op, _) => reply(
                id,
                400,
                format!("unsupported $cbs operation {op:?}; only put-token is"),
                Value::Null,
            ),
        };
        if replies.tx.send(answer).await.is_err() {
            return Some("the connection is closing".into());
        }
    }
}

/// Serves a `$cbs` answer link (the client reads answers) until it ends.
pub async fn serve_replies(replies: Arc<Replies>, mut link: Sender) -> Option<String> {
    let mut rx = replies.rx.lock().await;
    loop {
        tokio::select! {
            e = link.on_detach() => return crate::errors::end_reason(e),
            m = rx.recv() => {
                let m = m?;
                if let Err(e) = link.send(m).await {
                    return crate::errors::end_reason(e);
                }
            }
        }
    }
}
