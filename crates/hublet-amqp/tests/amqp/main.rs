//! The AMQP service endpoint with a real AMQP client (fe2o3-amqp's) over TLS
//! on loopback: CBS, the C2D link's property mapping, every rejection,
//! credit and order, token expiry, and the feedback link's settlements.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod eventhub;

use std::time::Duration;

use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::types::definitions::{AmqpError, ErrorCondition, LinkError};
use fe2o3_amqp::types::messaging::{
    ApplicationProperties, Body, Message, MessageId, Outcome, Properties,
};
use fe2o3_amqp::types::primitives::{Binary, SimpleValue, Symbol, Timestamp, Value};
use hublet_core::{AckMode, HubSettings, TraceQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::{Bench, Client};

fn c2d(device: &str, body: &str) -> Message<Body<Value>> {
    Message::builder()
        .properties(Properties {
            to: Some(format!("/devices/{device}/messages/devicebound")),
            ..Default::default()
        })
        .body(Body::Data(
            vec![fe2o3_amqp::types::messaging::Data(Binary::from(
                body.as_bytes().to_vec(),
            ))]
            .into(),
        ))
        .build()
}

async fn sender(c: &mut Client, target: &str) -> Sender {
    Sender::attach(&mut c.session, "c2d-sender", target)
        .await
        .unwrap()
}

/// The rejection's condition and IoT Hub code.
fn rejected(o: Outcome) -> (ErrorCondition, i64) {
    let Outcome::Rejected(r) = o else {
        panic!("expected rejected, got {o:?}")
    };
    let e = r.error.expect("a rejection always carries an error");
    let code = e
        .info
        .as_ref()
        .and_then(|i| i.get(&Symbol::from("com.microsoft:error-code")).cloned());
    let code = match code {
        Some(Value::Int(n)) => i64::from(n),
        other => panic!("no error code: {other:?}"),
    };
    (e.condition, code)
}

#[tokio::test]
async fn a_message_is_accepted_once_stored_with_every_property_mapped() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    let mut tx = sender(&mut c, "amqps://localhost:5671/messages/deviceBound").await;
    let expiry = b.hub.now().0 + 600_000;
    let m = Message::builder()
        .properties(Properties {
            to: Some("/devices/d1/messages/devicebound".into()),
            message_id: Some(MessageId::String("mid-1".into())),
            correlation_id: Some(MessageId::Ulong(42)),
            user_id: Some(Binary::from(b"backend".to_vec())),
            content_type: Some(Symbol::from("application/json")),
            content_encoding: Some(Symbol::from("utf-8")),
            absolute_expiry_time: Some(Timestamp::from_milliseconds(expiry)),
            ..Default::default()
        })
        .application_properties(
            ApplicationProperties::builder()
                .insert("iothub-ack", SimpleValue::String("full".into()))
                .insert("color", SimpleValue::String("red".into()))
                .insert("count", SimpleValue::Int(3))
                .build(),
        )
        .body(Body::<Value>::Data(
            vec![fe2o3_amqp::types::messaging::Data(Binary::from(
                b"{\"on\":true}".to_vec(),
            ))]
            .into(),
        ))
        .build();
    let outcome = tx.send(m).await.unwrap();
    assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
    let q = b.hub.mailbox().list("d1").await.unwrap();
    assert_eq!(q.len(), 1, "accepted means stored");
    let m = &q[0];
    assert_eq!(m.message_id, "mid-1");
    assert_eq!(m.correlation_id.as_deref(), Some("42"));
    assert_eq!(m.user_id.as_deref(), Some("backend"));
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
    assert_eq!(m.content_encoding.as_deref(), Some("utf-8"));
    assert_eq!(m.expiry_time_utc.0, expiry);
    assert_eq!(m.ack, AckMode::Full);
    assert_eq!(m.properties.get("color").map(String::as_str), Some("red"));
    assert_eq!(m.properties.get("count").map(String::as_str), Some("3"));
    assert!(!m.properties.contains_key("iothub-ack"));
    assert_eq!(m.body, b"{\"on\":true}");
    b.hub.trace().flush().await.unwrap();
    let enq = b
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["c2d.enqueued".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(enq[0].detail.detail_value()["via"], "amqp");
}

#[tokio::test]
async fn each_refusal_is_a_rejection_with_iot_hubs_condition_and_code() {
    let b = Bench::with_settings(HubSettings {
        queue_cap: 1,
        ..Default::default()
    })
    .await;
    let mut c = b.authorized().await;
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    assert!(matches!(
        tx.send(c2d("d2", "fills the queue")).await.unwrap(),
        Outcome::Accepted(_)
    ));
    let past = {
        let mut m = c2d("d1", "late");
        m.properties.as_mut().unwrap().absolute_expiry_time =
            Some(Timestamp::from_milliseconds(b.hub.now().0 - 1000));
        m
    };
    let bad_prop = {
        let mut m = c2d("d1", "x");
        m.application_properties = Some(
            ApplicationProperties::builder()
                .insert("bad name", SimpleValue::String("v".into()))
                .build(),
        );
        m
    };
    let bad_to = {
        let mut m = c2d("d1", "x");
        m.properties.as_mut().unwrap().to = Some("/devices/d1/elsewhere".into());
        m
    };
    let cases: Vec<(&str, Message<Body<Value>>, ErrorCondition, i64)> = vec![
        (
            "unknown device",
            c2d("ghost", "x"),
            ErrorCondition::AmqpError(AmqpError::NotFound),
            404001,
        ),
        (
            "full queue",
            c2d("d2", "one too many"),
            ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded),
            403004,
        ),
        (
            "too large",
            c2d("d1", &"x".repeat(70 * 1024)),
            ErrorCondition::LinkError(LinkError::MessageSizeExceeded),
            413001,
        ),
        (
            "expiry in the past",
            past,
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-out-of-range")),
            403009,
        ),
        (
            "bad property name",
            bad_prop,
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-error")),
            400004,
        ),
        (
            "bad to",
            bad_to,
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-error")),
            400004,
        ),
    ];
    for (what, m, condition, code) in cases {
        let got = rejected(tx.send(m).await.unwrap());
        assert_eq!(got, (condition, code), "{what}");
    }
    assert!(b.hub.mailbox().list("d1").await.unwrap().is_empty());
    assert_eq!(b.hub.mailbox().list("d2").await.unwrap().len(), 1);
}

#[tokio::test]
async fn nothing_is_sent_before_a_valid_token() {
    let b = Bench::new().await;
    let mut c = b.connect().await;
    // A bad token is refused with 401, and traced.
    let refused = c
        .put_token("SharedAccessSignature sr=localhost&sig=AAAA&se=1&skn=iothubowner")
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    let r = tx.send(c2d("d1", "x")).await;
    match r {
        Ok(o) => {
            let (cond, code) = rejected(o);
            assert_eq!(
                cond,
                ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess)
            );
            assert_eq!(code, 401003);
        }
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                text.contains("UnauthorizedAccess") || text.contains("unauthorized"),
                "{text}"
            );
        }
    }
    assert!(b.hub.mailbox().list("d1").await.unwrap().is_empty());
    b.hub.trace().flush().await.unwrap();
    let failed = b
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["service.auth_failed".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!failed.is_empty());
}

#[tokio::test]
async fn many_deliveries_in_flight_keep_each_devices_order() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    let mut pending = Vec::new();
    for i in 0..150 {
        let device = ["d1", "d2", "d3"][i % 3];
        let mut m = c2d(device, &format!("{i}"));
        m.properties.as_mut().unwrap().message_id = Some(MessageId::String(format!("m{i}")));
        pending.push(tx.send_batchable(m).await.unwrap());
    }
    for p in pending {
        assert!(matches!(p.await.unwrap(), Outcome::Accepted(_)));
    }
    for (k, device) in ["d1", "d2", "d3"].iter().enumerate() {
        let ids: Vec<String> = b
            .hub
            .mailbox()
            .list(device)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        let want: Vec<String> = (0..150)
            .filter(|i| i % 3 == k)
            .map(|i| format!("m{i}"))
            .collect();
        assert_eq!(ids, want, "{device}");
    }
}

#[tokio::test]
async fn links_are_detached_when_the_token_runs_out_and_a_renewal_keeps_them() {
    let b = Bench::new().await;
    let mut c = b.connect().await;
    c.put_token(&b.token("service", 60)).await.unwrap();
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    assert!(matches!(
        tx.send(c2d("d1", "1")).await.unwrap(),
        Outcome::Accepted(_)
    ));
    // Renewed before expiry: the link stays.
    b.clock.advance(Duration::from_secs(50));
    c.put_token(&b.token("service", 60)).await.unwrap();
    b.clock.advance(Duration::from_secs(30));
    assert!(matches!(
        tx.send(c2d("d1", "2")).await.unwrap(),
        Outcome::Accepted(_)
    ));
    // Not renewed: detached with unauthorized-access.
    b.clock.advance(Duration::from_secs(61));
    let e = tokio::time::timeout(Duration::from_secs(5), tx.on_detach())
        .await
        .expect("the link is detached");
    assert!(format!("{e:?}").contains("UnauthorizedAccess"), "{e:?}");
    assert_eq!(b.hub.mailbox().list("d1").await.unwrap().len(), 2);
}

#[tokio::test]
async fn sasl_plain_with_a_policy_token_authorizes_and_a_bad_one_fails() {
    let b = Bench::new().await;
    let token = b.token("iothubowner", 3600);
    let mut c = b
        .connect_plain("iothubowner@sas.root.localhost", &token)
        .await
        .unwrap();
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    assert!(matches!(
        tx.send(c2d("d1", "x")).await.unwrap(),
        Outcome::Accepted(_)
    ));
    let bad = b
        .connect_plain(
            "iothubowner@sas.root.localhost",
            "SharedAccessSignature sr=localhost&sig=AAAA&se=99999999999&skn=iothubowner",
        )
        .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn an_unknown_node_is_refused_and_the_connection_goes_on() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    let r = Sender::attach(&mut c.session, "nowhere", "/messages/events").await;
    match r {
        Err(e) => assert!(format!("{e:?}").contains("NotFound"), "{e:?}"),
        Ok(mut s) => {
            let e = tokio::time::timeout(Duration::from_secs(5), s.on_detach())
                .await
                .unwrap();
            assert!(format!("{e:?}").contains("NotFound"), "{e:?}");
        }
    }
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    assert!(matches!(
        tx.send(c2d("d1", "x")).await.unwrap(),
        Outcome::Accepted(_)
    ));
}

#[tokio::test]
async fn bytes_that_are_not_amqp_get_amqps_header_and_a_close() {
    let b = Bench::new().await;
    let mut s = b.tls().await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
    assert!(got.starts_with(b"AMQP\x00\x01\x00\x00"), "{got:?}");
    // Others are unaffected.
    let mut c = b.authorized().await;
    let mut tx = sender(&mut c, "/messages/devicebound").await;
    assert!(matches!(
        tx.send(c2d("d1", "x")).await.unwrap(),
        Outcome::Accepted(_)
    ));
}

/// A feedback batch ready to be received: a message with `ack=full`
/// completed by its device, and the batching window passed.
async fn feedback_ready(b: &Bench, id: &str) {
    let m = hublet_core::NewMessage {
        message_id: Some(id.into()),
        ack: AckMode::Full,
        ..hublet_core::NewMessage::text("x")
    };
    b.hub.mailbox().send("d1", m).await.unwrap();
    let got = b.hub.mailbox().receive("d1").await.unwrap().unwrap();
    b.hub
        .mailbox()
        .complete("d1", got.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    b.clock.advance(Duration::from_secs(20));
    b.hub.feedback().sweep().await.unwrap();
}

async fn feedback_receiver(c: &mut Client) -> Receiver {
    Receiver::attach(&mut c.session, "fb", "/messages/serviceBound/feedback")
        .await
        .unwrap()
}

#[tokio::test]
async fn feedback_arrives_as_iot_hub_sends_it_and_its_outcome_settles_the_batch() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    feedback_ready(&b, "m-fb").await;
    let mut rx = feedback_receiver(&mut c).await;
    let d = tokio::time::timeout(Duration::from_secs(10), rx.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    let m = d.message();
    let p = m.properties.as_ref().unwrap();
    assert_eq!(
        p.content_type.as_ref().map(|s| s.0.as_str()),
        Some("application/vnd.microsoft.iothub.feedback.json")
    );
    assert!(p.user_id.is_some());
    assert!(
        m.message_annotations
            .as_ref()
            .unwrap()
            .0
            .keys()
            .any(|k| format!("{k:?}").contains("iothub-enqueuedtime"))
    );
    let Body::Data(data) = &m.body else {
        panic!("a data section")
    };
    let json: serde_json::Value = serde_json::from_slice(&data[0].0).unwrap();
    assert_eq!(json[0]["originalMessageId"], "m-fb");
    assert_eq!(json[0]["statusCode"], "Success");
    assert_eq!(json[0]["deviceId"], "d1");
    // Released: it comes back.
    rx.release(&d).await.unwrap();
    let again = tokio::time::timeout(Duration::from_secs(10), rx.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    rx.accept(&again).await.unwrap();
    // Accepted: gone for good.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.hub.feedback().receive().await.unwrap().is_none());
    // Rejected: dropped, and traced as such.
    feedback_ready(&b, "m-fb2").await;
    let d = tokio::time::timeout(Duration::from_secs(10), rx.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    rx.reject(&d, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.hub.feedback().receive().await.unwrap().is_none());
    b.hub.trace().flush().await.unwrap();
    let dropped = b
        .hub
        .trace()
        .query(TraceQuery {
            kinds: vec!["feedback.dropped".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dropped[0].detail.detail_value()["reason"], "rejected");
}

#[tokio::test]
async fn a_feedback_receiver_that_leaves_unsettled_returns_its_batch() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    feedback_ready(&b, "m-gone").await;
    let mut rx = feedback_receiver(&mut c).await;
    let _d = tokio::time::timeout(Duration::from_secs(10), rx.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    drop(rx);
    c.session.close().await.ok();
    c.conn.close().await.ok();
    let back = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(m) = b.hub.feedback().receive().await.unwrap() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the batch comes back");
    assert_eq!(back.records[0].original_message_id, "m-gone");
}

#[tokio::test]
async fn a_client_opening_thousands_of_links_and_sessions_is_stopped_cleanly() {
    let b = Bench::new().await;
    let mut greedy = b.authorized().await;
    // Links: the hub allows 64 per session; past that each attach is
    // answered and at once closed with resource-limit-exceeded.
    let mut links = Vec::new();
    for i in 0..80 {
        links.push(
            Sender::attach(
                &mut greedy.session,
                format!("s{i}"),
                "/messages/devicebound",
            )
            .await
            .unwrap(),
        );
    }
    let mut last = links.pop().unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), last.on_detach())
        .await
        .expect("the link over the limit is closed by the hub");
    assert!(
        format!("{closed:?}").contains("ResourceLimitExceeded"),
        "{closed:?}"
    );
    // The links within the limit still work.
    assert!(matches!(
        links[0].send(c2d("d1", "within the limit")).await.unwrap(),
        Outcome::Accepted(_)
    ));
    // Sessions: 16 per connection.
    let mut sessions = Vec::new();
    let mut session_refused = false;
    for _ in 0..100 {
        match tokio::time::timeout(
            Duration::from_secs(5),
            fe2o3_amqp::Session::begin(&mut greedy.conn),
        )
        .await
        {
            Ok(Ok(s)) => sessions.push(s),
            _ => {
                session_refused = true;
                break;
            }
        }
    }
    assert!(session_refused, "a hundred sessions were allowed");
    assert!(
        sessions.len() < 16,
        "{} sessions besides the first",
        sessions.len()
    );
    // Every other connection goes on.
    let mut other = b.authorized().await;
    let mut tx = sender(&mut other, "/messages/devicebound").await;
    assert!(matches!(
        tx.send(c2d("d1", "still served")).await.unwrap(),
        Outcome::Accepted(_)
    ));
}
