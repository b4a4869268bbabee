//! The trace's cross-language contract: the real engine is driven through
//! every kind of event, and the events are written, as the API and exports
//! send them, to `ui/tests/fixtures/trace-events.jsonl`. The UI's own tests
//! read that file with the UI's own code and render every event, so a field
//! renamed in Rust fails in TypeScript (ts-rs types) and in the UI's tests
//! (this fixture). CI fails when the committed file is stale, as it does
//! for the generated TypeScript types.
//!
//! Transport-specific kinds (serial lines, simulator actions) are appended
//! through the engine's trace exactly as their adapters do, with the same
//! typed details; everything else comes from the engine's own operations.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use hublet_core::auth::sas;
use hublet_core::trace::detail::{
    DeviceProtocol, LinkDirection, SerialLine, SerialPortChange, SerialPortEvent, SerialSent,
    ServiceAuthFailed, ServiceAuthorized, ServiceConnected, ServiceDisconnected, ServiceLink,
    SimAction, SimActionKind,
};
use hublet_core::{
    AckMode, AttachRequest, EventKind, HubSettings, MethodCall, NewDevice, NewEvent, NewMessage,
    Telemetry, ToDevice, TraceDetail, TraceQuery,
};
use serde_json::{Value, json};

use hublet_core::{C2dMessage, Clock};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::TestHub;

async fn next(rx: &mut UnboundedReceiver<ToDevice>) -> Box<C2dMessage> {
    match rx.recv().await {
        Some(ToDevice::C2d(m)) => m,
        other => panic!("expected a C2D message, got {other:?}"),
    }
}

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/tests/fixtures/trace-events.jsonl")
}

/// Replaces what is random from run to run (lock tokens, generation ids)
/// with stable stand-ins, numbered by first appearance.
fn normalise(v: &mut Value, seen: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "generationId" | "deviceGenerationId")
                    && let Value::String(s) = x
                {
                    let n = seen.len();
                    *s = seen
                        .entry(s.clone())
                        .or_insert_with(|| format!("63915{n:014}"))
                        .clone();
                } else {
                    normalise(x, seen);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalise(x, seen)),
        Value::String(s) if is_uuid(s) => {
            let n = seen.len();
            *s = seen
                .entry(s.clone())
                .or_insert_with(|| format!("00000000-0000-4000-8000-{n:012}"))
                .clone();
        }
        _ => {}
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[tokio::test]
async fn every_kind_of_event_is_produced_and_written_to_the_ui_fixture() {
    let t = TestHub::with_settings(HubSettings {
        feedback_batch_window_secs: 1,
        ..HubSettings::default()
    })
    .await;
    let hub = &t.hub;

    // Settings and registry.
    hub.update_settings(HubSettings {
        feedback_batch_window_secs: 1,
        feedback_max_delivery_count: 1,
        ..HubSettings::default()
    })
    .await
    .unwrap();
    hub.registry()
        .create(NewDevice {
            primary_key: Some(KEY.into()),
            secondary_key: Some(KEY.into()),
            ..NewDevice::named("thermostat-1")
        })
        .await
        .unwrap();
    t.device("bench-7").await;
    t.device("spare").await;
    hub.registry()
        .set_enabled("spare", false, Some("in the drawer".into()))
        .await
        .unwrap();
    hub.registry()
        .set_enabled("spare", true, None)
        .await
        .unwrap();
    hub.registry()
        .regenerate_key("spare", hublet_core::registry::KeyKind::Secondary)
        .await
        .unwrap();

    // A refused and an accepted connection.
    let expiry = t.clock.now().unix_seconds() + 3600;
    let bad = sas::create(
        "localhost/devices/thermostat-1",
        &hublet_core::auth::generate_key(),
        None,
        expiry,
    )
    .unwrap();
    assert!(
        hub.attach(
            "thermostat-1",
            AttachRequest::sas("mqtt", Some("127.0.0.1:50000".into()), bad)
        )
        .await
        .is_err()
    );
    let good = sas::create("localhost/devices/thermostat-1", KEY, None, expiry).unwrap();
    let (att, mut rx) = hub
        .attach(
            "thermostat-1",
            AttachRequest::sas("mqtt", Some("127.0.0.1:50001".into()), good),
        )
        .await
        .unwrap();
    att.protocol_event(DeviceProtocol::new(
        att.transport(),
        "a notice from the transport",
    ));
    att.telemetry(Telemetry {
        message_id: Some("t-1".into()),
        content_type: Some("application/json".into()),
        properties: BTreeMap::from([("alert".into(), Some("high".into())), ("bare".into(), None)]),
        body: br#"{"temperature": 21.5}"#.to_vec(),
        ..Telemetry::default()
    })
    .unwrap();

    // C2D: completed, abandoned then rejected, lock expired, lock released.
    let send = |id: &'static str, body: &'static str| NewMessage {
        message_id: Some(id.into()),
        ack: AckMode::Full,
        properties: BTreeMap::from([("color".into(), "red".into())]),
        ..NewMessage::text(body)
    };
    hub.mailbox()
        .send("thermostat-1", send("m-complete", "on"))
        .await
        .unwrap();
    hub.mailbox()
        .send("thermostat-1", send("m-reject", "later"))
        .await
        .unwrap();
    hub.mailbox()
        .send("thermostat-1", send("m-expire-lock", "slow"))
        .await
        .unwrap();
    att.subscribe_c2d(1).unwrap();
    let m = next(&mut rx).await;
    att.complete(m.lock_token.as_deref().unwrap())
        .await
        .unwrap();
    let m = next(&mut rx).await;
    att.abandon(m.lock_token.as_deref().unwrap()).await.unwrap();
    let m = next(&mut rx).await;
    assert_eq!(m.message_id, "m-reject");
    att.reject(m.lock_token.as_deref().unwrap()).await.unwrap();
    let m = next(&mut rx).await;
    assert_eq!(m.message_id, "m-expire-lock");
    t.advance(Duration::from_secs(61)).await;
    let m = next(&mut rx).await;
    assert_eq!(
        m.message_id, "m-expire-lock",
        "redelivered after its lock expired"
    );

    // Methods: answered, late answer, timed out.
    att.subscribe_methods();
    let h = hub.clone();
    let call = tokio::spawn(async move {
        h.methods()
            .invoke(
                "thermostat-1",
                MethodCall::new("getState", json!({"verbose": true})),
            )
            .await
    });
    let rid = match rx.recv().await {
        Some(ToDevice::Method(r)) => r.request_id,
        other => panic!("expected a method request, got {other:?}"),
    };
    att.respond(&rid, 200, br#"{"setpoint": 21}"#);
    call.await.unwrap().unwrap();
    att.respond("999", 200, b"{}");
    let h = hub.clone();
    let call = tokio::spawn(async move {
        h.methods()
            .invoke(
                "thermostat-1",
                MethodCall::new("reboot", Value::Null).timeouts(0, 5),
            )
            .await
    });
    assert!(matches!(rx.recv().await, Some(ToDevice::Method(_))));
    // Virtual time moves until the call gives up (its deadline is set just
    // after the request goes out).
    for _ in 0..100 {
        if call.is_finished() {
            break;
        }
        t.clock.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(call.await.unwrap().is_err());

    // The device goes away holding a lock; a call then finds it offline.
    att.detach(hublet_core::DetachReason::Closed).await;
    assert!(
        hub.methods()
            .invoke("thermostat-1", MethodCall::new("getState", Value::Null))
            .await
            .is_err()
    );

    // Expiry while queued, and a purge.
    hub.mailbox()
        .send(
            "bench-7",
            NewMessage {
                ttl_secs: Some(60),
                ..send("m-ttl", "too late")
            },
        )
        .await
        .unwrap();
    t.advance(Duration::from_secs(61)).await;
    hub.mailbox()
        .send("bench-7", send("m-purge", "never"))
        .await
        .unwrap();
    hub.mailbox().purge("bench-7").await.unwrap();

    // Feedback: one message completed, one abandoned (and dropped: max 1).
    t.advance(Duration::from_secs(2)).await;
    let fb = hub
        .feedback()
        .receive_via(Some("iothub-https"))
        .await
        .unwrap()
        .unwrap();
    hub.feedback().complete(&fb.lock_token).await.unwrap();
    hub.mailbox()
        .send("bench-7", send("m-purge-2", "never"))
        .await
        .unwrap();
    hub.mailbox().purge("bench-7").await.unwrap();
    t.advance(Duration::from_secs(2)).await;
    let fb = hub.feedback().receive().await.unwrap().unwrap();
    hub.feedback().abandon(&fb.lock_token).await.unwrap();

    // What the serial bridge and the simulator append.
    let at = t.clock.now();
    let append = |d: TraceDetail| hub.trace().append(NewEvent::new("bench-7", d));
    append(TraceDetail::SerialPort(SerialPortEvent {
        event: SerialPortChange::Opened,
        identity: "USB 2341:0043 serial 7583".into(),
        path: Some("/dev/ttyACM0".into()),
        error: None,
        reason: None,
        pulse_ms: None,
        firmware: None,
    }));
    append(TraceDetail::SerialSent(SerialSent {
        text: Some("@@ WHO".into()),
        hex: None,
        frame: true,
        sent_at: at,
    }));
    append(TraceDetail::SerialLine(SerialLine {
        text: Some("boot \\xff ok".into()),
        hex: Some("62 6f 6f 74 20 ff 20 6f 6b".into()),
        frame: false,
        partial: false,
        warning: None,
        received_at: at,
    }));
    hub.trace().append(NewEvent::new(
        "sim-1",
        TraceDetail::SimAction(SimAction {
            profile: "thermostat".into(),
            action: SimActionKind::IgnoreMethod {
                method: "reboot".into(),
                request_id: "12".into(),
            },
        }),
    ));
    // What the AMQP service endpoint appends.
    let svc = |d: TraceDetail| hub.trace().append(NewEvent::hub(d));
    let (via, remote) = ("amqp".to_string(), "127.0.0.1:50412".to_string());
    svc(TraceDetail::ServiceConnected(ServiceConnected {
        via: via.clone(),
        remote: remote.clone(),
        mechanism: Some("MSSBCBS".into()),
        container_id: None,
    }));
    svc(TraceDetail::ServiceAuthFailed(ServiceAuthFailed {
        via: via.clone(),
        remote: remote.clone(),
        code: 401003,
        reason: "the signature does not match the key (wrong or rotated key?)".into(),
    }));
    svc(TraceDetail::ServiceAuthorized(ServiceAuthorized {
        via: via.clone(),
        remote: remote.clone(),
        policy: "iothubowner".into(),
        expiry: at.plus(Duration::from_secs(3600)),
    }));
    let link = ServiceLink {
        via: via.clone(),
        remote: remote.clone(),
        address: "/messages/devicebound".into(),
        direction: LinkDirection::ToHub,
        reason: None,
    };
    svc(TraceDetail::ServiceLinkAttached(link.clone()));
    svc(TraceDetail::ServiceLinkDetached(ServiceLink {
        reason: Some("amqp:unauthorized-access: Token Invalid.".into()),
        ..link
    }));
    svc(TraceDetail::ServiceDisconnected(ServiceDisconnected {
        via,
        remote,
        reason: None,
    }));
    // Twins: a back end's patch of tags and desired properties, and the
    // device's reported answer.
    let obj = |v: Value| match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    hub.twins()
        .write(
            "spare",
            hublet_core::twin::TwinOp::Patch,
            hublet_core::twin::TwinWrite {
                tags: Some(obj(json!({"room": "lab"}))),
                desired: Some(obj(json!({"setpoint": 22}))),
            },
            None,
        )
        .await
        .unwrap();
    hub.twins()
        .report("spare", json!({"setpoint": 22}), "mqtt")
        .await
        .unwrap();
    // A module identity: created, its keys changed, deleted.
    hub.modules()
        .create(
            "spare",
            hublet_core::NewModule {
                module_id: "probe".into(),
                managed_by: Some("lab".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    hub.modules()
        .regenerate_key("spare", "probe", hublet_core::registry::KeyKind::Primary)
        .await
        .unwrap();
    hub.modules().delete("spare", "probe", None).await.unwrap();
    hub.registry().delete("spare", None).await.unwrap();
    hub.trace().flush().await.unwrap();

    let events = hub
        .trace()
        .query(TraceQuery {
            limit: Some(hublet_core::trace::MAX_LIMIT),
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    let seen: HashSet<EventKind> = events.iter().filter_map(|e| e.kind()).collect();
    let missing: Vec<&str> = EventKind::ALL
        .iter()
        .filter(|k| !seen.contains(k))
        .map(|k| k.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "kinds the contract never produced: {missing:?}"
    );
    assert!(
        events.iter().all(|e| e.kind().is_some()),
        "every event the engine writes is read back typed"
    );

    let mut stable = BTreeMap::new();
    let mut out = String::new();
    for e in &events {
        let mut v = serde_json::to_value(e).unwrap();
        normalise(&mut v, &mut stable);
        out.push_str(&serde_json::to_string(&v).unwrap());
        out.push('\n');
    }
    let path = fixture_path();
    if std::fs::read_to_string(&path).ok().as_deref() != Some(out.as_str()) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out).unwrap();
    }
}
