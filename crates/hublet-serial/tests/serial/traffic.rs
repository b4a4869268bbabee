//! C2D messages and direct methods over the line protocol.

use hublet_core::registry::ConnectionState;
use hublet_core::{AckMode, ErrorCode, MethodCall, NewMessage};
use serde_json::json;

use crate::support::{Bench, text, wait_line};

fn msg(id: &str, body: &str) -> NewMessage {
    NewMessage {
        message_id: Some(id.into()),
        ack: AckMode::Full,
        properties: [("color".to_string(), "red".to_string())].into(),
        ..NewMessage::text(body)
    }
}

#[tokio::test]
async fn an_attached_board_is_a_connected_device_that_said_hello() {
    let b = Bench::new().await;
    let _emu = b.board("b0", "bench-1").await;
    let d = b.hub.registry().get("bench-1").await.unwrap();
    assert_eq!(d.connection_state, ConnectionState::Connected);
    assert_eq!(d.transport.as_deref(), Some("serial"));
    let hello = b
        .wait_event("bench-1", "serial.port", |e| {
            e.detail.detail_value()["event"] == "hello"
        })
        .await;
    assert_eq!(hello.detail.detail_value()["firmware"], "hublet-emulator-1");
    assert_eq!(
        b.console_in("bench-1").await[0],
        "boot: emulated board ready"
    );
    b.stop().await;
}

#[tokio::test]
async fn c2d_messages_are_completed_abandoned_and_rejected_with_the_right_feedback() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    b.hub
        .mailbox()
        .send("bench-1", msg("ok-1", "on please"))
        .await
        .unwrap();
    let frame = wait_line(&emu, |l| l.starts_with("@@ C2D ") && l.contains(" ok-1 ")).await;
    assert!(frame.contains("iothub-ack=full"), "{frame}");
    assert!(frame.contains("color=red"), "{frame}");
    assert!(frame.ends_with(" on please"), "{frame}");
    let done = b
        .wait_event("bench-1", "feedback.produced", |e| {
            e.message_id.as_deref() == Some("ok-1")
        })
        .await;
    assert_eq!(done.detail.detail_value()["statusCode"], "Success");

    b.hub
        .mailbox()
        .send("bench-1", msg("no-1", "reject this"))
        .await
        .unwrap();
    let rejected = b
        .wait_event("bench-1", "feedback.produced", |e| {
            e.message_id.as_deref() == Some("no-1")
        })
        .await;
    assert_eq!(rejected.detail.detail_value()["statusCode"], "Rejected");

    // The board abandons every time, so the message comes back until the
    // delivery count runs out and it is dead-lettered.
    b.hub
        .mailbox()
        .send("bench-1", msg("ab-1", "abandon me"))
        .await
        .unwrap();
    let dead = b
        .wait_event("bench-1", "feedback.produced", |e| {
            e.message_id.as_deref() == Some("ab-1")
        })
        .await;
    assert_eq!(
        dead.detail.detail_value()["statusCode"],
        "DeliveryCountExceeded"
    );
    let abandoned = b.events("bench-1", "c2d.abandoned").await;
    assert_eq!(
        abandoned.len(),
        10,
        "one abandon per delivery, up to the maximum"
    );
    assert!(b.hub.mailbox().list("bench-1").await.unwrap().is_empty());

    // Every frame both ways is in the trace, tied to its message.
    let sent = b.events("bench-1", "serial.sent").await;
    assert!(sent.iter().any(
        |e| e.message_id.as_deref() == Some("ok-1") && e.detail.detail_value()["frame"] == true
    ));
    b.stop().await;
}

#[tokio::test]
async fn messages_go_one_at_a_time_in_order() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    for i in 0..20 {
        b.hub
            .mailbox()
            .send("bench-1", msg(&format!("m{i:02}"), "step"))
            .await
            .unwrap();
    }
    b.wait_event("bench-1", "feedback.produced", |e| {
        e.message_id.as_deref() == Some("m19")
    })
    .await;
    let order: Vec<String> = emu
        .received()
        .iter()
        .map(|l| text(l))
        .filter(|l| l.starts_with("@@ C2D "))
        .map(|l| l.split(' ').nth(3).unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("m{i:02}")).collect();
    assert_eq!(order, expected);
    b.stop().await;
}

#[tokio::test]
async fn methods_are_answered_with_the_boards_status_and_payload() {
    let b = Bench::new().await;
    let _emu = b.board("b0", "bench-1").await;
    let r = b
        .hub
        .methods()
        .invoke(
            "bench-1",
            MethodCall::new("echo", json!({"setpoint": 21.5, "note": "a b"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.payload, json!({"setpoint": 21.5, "note": "a b"}));
    let r = b
        .hub
        .methods()
        .invoke("bench-1", MethodCall::new("fail", json!(null)))
        .await
        .unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.payload["error"], "failed on request");
    let r = b
        .hub
        .methods()
        .invoke("bench-1", MethodCall::new("selfDestruct", json!({})))
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.payload["error"], "no method 'selfDestruct'");
    let err = b
        .hub
        .methods()
        .invoke("nobody", MethodCall::new("echo", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeviceNotFound);
    b.stop().await;
}

#[tokio::test]
async fn telemetry_frames_reach_the_hub_with_their_properties() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    emu.println("@@ TELEMETRY %24.ct=application%2Fjson&room=lab {\"t\":21.5}")
        .unwrap();
    let t = b
        .wait_event("bench-1", "telemetry.received", |_| true)
        .await;
    assert_eq!(t.detail.detail_value()["contentType"], "application/json");
    assert_eq!(t.detail.detail_value()["properties"]["room"], "lab");
    b.stop().await;
}

#[tokio::test]
async fn a_board_reads_and_reports_its_twin_and_hears_desired_changes() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-t").await;
    // A REPORT is merged and answered with the new reported version.
    emu.write_raw(b"@@ REPORT r1 {\"fw\":\"2.1\",\"net\":{\"rssi\":-40}}\n")
        .unwrap();
    assert_eq!(
        wait_line(&emu, |l| l.starts_with("@@ TWIN r1")).await,
        r#"@@ TWIN r1 204 {"$version":2}"#
    );
    // A refused one: IoT Hub's status and error body, nothing changed.
    emu.write_raw(b"@@ REPORT r2 {\"bad.key\":1}\n").unwrap();
    let refused = wait_line(&emu, |l| l.starts_with("@@ TWIN r2")).await;
    assert!(
        refused.starts_with("@@ TWIN r2 400 {") && refused.contains("\"errorCode\":400004"),
        "{refused}"
    );
    // A desired change reaches the board; the emulator acknowledges it.
    b.hub
        .twins()
        .write(
            "bench-t",
            hublet_core::twin::TwinOp::Patch,
            hublet_core::twin::TwinWrite {
                desired: serde_json::from_value(json!({"rate": 5})).ok(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        wait_line(&emu, |l| l.starts_with("@@ DESIRED")).await,
        r#"@@ DESIRED 2 {"$version":2,"rate":5}"#
    );
    for _ in 0..500 {
        let t = b.hub.twins().get("bench-t").await.unwrap().state;
        if t.reported.doc.contains_key("rate") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let twin = b.hub.twins().get("bench-t").await.unwrap().to_json();
    assert_eq!(
        twin["properties"]["reported"]["rate"],
        json!({"value": 5, "ac": 200, "av": 2})
    );
    // TWINGET: both sections with their versions, no metadata.
    emu.write_raw(b"@@ TWINGET g1\n").unwrap();
    let got = wait_line(&emu, |l| l.starts_with("@@ TWIN g1")).await;
    let body: serde_json::Value =
        serde_json::from_str(got.strip_prefix("@@ TWIN g1 200 ").unwrap()).unwrap();
    assert_eq!(body["desired"], json!({"rate": 5, "$version": 2}));
    assert_eq!(body["reported"]["fw"], "2.1");
    assert_eq!(body["reported"]["$version"], 3);
    b.stop().await;
}
