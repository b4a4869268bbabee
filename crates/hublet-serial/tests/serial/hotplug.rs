//! Unplug, re-plug, explicit detach for a flashing tool, and restarts.

use std::time::Duration;

use hublet_core::registry::ConnectionState;
use hublet_core::{AckMode, ErrorCode, MethodCall, NewMessage};
use hublet_serial::{BoardState, Emulator, SerialBridge, SerialSettings};
use serde_json::json;

use crate::support::{Bench, wait_line};

fn msg(id: &str) -> NewMessage {
    NewMessage {
        message_id: Some(id.into()),
        ack: AckMode::Positive,
        ..NewMessage::text("queued while away")
    }
}

#[tokio::test]
async fn unplugged_mid_call_the_call_fails_at_once_and_the_queued_message_waits_for_the_board() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    let hub = b.hub.clone();
    let call = tokio::spawn(async move {
        hub.methods()
            .invoke(
                "bench-1",
                MethodCall::new("hang", json!({})).timeouts(0, 300),
            )
            .await
    });
    wait_line(&emu, |l| l.starts_with("@@ METHOD ")).await;
    emu.unplug();
    // No clock movement: the failure comes from the closed port, not a timeout.
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeviceConnectionClosedRemotely);
    b.wait_state("bench-1", BoardState::Searching).await;
    let gone = b
        .wait_event("bench-1", "serial.port", |e| {
            e.detail.detail_value()["event"] == "disappeared"
        })
        .await;
    assert!(
        gone.detail.detail_value()["path"]
            .as_str()
            .unwrap()
            .ends_with("b0")
    );
    let d = b.hub.registry().get("bench-1").await.unwrap();
    assert_eq!(d.connection_state, ConnectionState::Disconnected);

    b.hub
        .mailbox()
        .send("bench-1", msg("while-away"))
        .await
        .unwrap();
    assert_eq!(
        b.hub.mailbox().list("bench-1").await.unwrap().len(),
        1,
        "it waits in the mailbox"
    );

    let emu = Emulator::start(Some("bench-1")).unwrap();
    b.plug("b0", &emu);
    b.clock.advance(Duration::from_secs(1));
    b.wait_state("bench-1", BoardState::Connected).await;
    b.wait_event("bench-1", "serial.port", |e| {
        e.detail.detail_value()["event"] == "reappeared"
    })
    .await;
    let frame = wait_line(&emu, |l| l.starts_with("@@ C2D ")).await;
    assert!(frame.contains(" while-away "));
    let fb = b
        .wait_event("bench-1", "feedback.produced", |e| {
            e.message_id.as_deref() == Some("while-away")
        })
        .await;
    assert_eq!(fb.detail.detail_value()["statusCode"], "Success");
    b.stop().await;
}

#[tokio::test]
async fn a_detached_board_frees_its_port_for_a_flashing_tool_and_is_taken_back_on_reattach() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    let path = b.link("b0");
    assert!(
        serialport::new(path.to_string_lossy(), 115_200)
            .open_native()
            .is_err(),
        "while attached, the bridge holds the port exclusively"
    );
    b.bridge.release("bench-1").await.unwrap();
    b.wait_state("bench-1", BoardState::Released).await;
    let err = b
        .hub
        .methods()
        .invoke("bench-1", MethodCall::new("echo", json!({})).timeouts(0, 5))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeviceNotOnline);
    b.hub
        .mailbox()
        .send("bench-1", msg("after-flash"))
        .await
        .unwrap();
    {
        let flasher = serialport::new(path.to_string_lossy(), 115_200).open_native();
        assert!(
            flasher.is_ok(),
            "the flashing tool gets the port: {:?}",
            flasher.err()
        );
    }
    // Stays detached however long it waits.
    b.clock.advance(Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        b.bridge.status("bench-1").unwrap().state,
        BoardState::Released
    );
    b.bridge.reclaim("bench-1").await.unwrap();
    b.wait_state("bench-1", BoardState::Connected).await;
    let frame = wait_line(&emu, |l| l.contains(" after-flash ")).await;
    assert!(frame.starts_with("@@ C2D "));
    let events: Vec<String> = b
        .events("bench-1", "serial.port")
        .await
        .iter()
        .map(|e| {
            e.detail.detail_value()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|e| e != "hello")
        .collect();
    assert_eq!(events, ["opened", "released", "reappeared"]);
    b.stop().await;
}

#[tokio::test]
async fn boards_are_remembered_across_hub_restarts_including_a_detached_one() {
    let b = Bench::new().await;
    let _one = b.board("b1", "bench-1").await;
    let _two = b.board("b2", "bench-2").await;
    b.bridge.release("bench-2").await.unwrap();
    let dir = b.stop().await;

    let b = Bench::open(dir).await;
    assert_eq!(b.bridge.restore().await.unwrap(), 2);
    b.wait_state("bench-1", BoardState::Connected).await;
    b.wait_state("bench-2", BoardState::Released).await;
    let r = b
        .hub
        .methods()
        .invoke("bench-1", MethodCall::new("echo", json!({"again": true})))
        .await
        .unwrap();
    assert_eq!(r.payload, json!({"again": true}));
    b.bridge.unbind("bench-2").await.unwrap();
    assert!(b.bridge.status("bench-2").is_none());
    assert!(
        b.hub.registry().get("bench-2").await.is_ok(),
        "forgetting the board keeps the device"
    );
    b.stop().await;
}

#[tokio::test]
async fn bad_settings_and_a_missing_port_are_clear() {
    let b = Bench::new().await;
    let bad = SerialSettings {
        parity: "mark".into(),
        ..SerialSettings::default()
    };
    let err = b
        .bridge
        .bind("/dev/null", "bench-1", bad, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("parity 'mark'"), "{err}");
    let path = b.link("nothing-here").to_string_lossy().into_owned();
    let err = b
        .bridge
        .bind(&path, "bench-1", SerialSettings::default(), false)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("port"), "{err}");
    assert!(
        err.to_string().contains("--wait"),
        "it says how to wait: {err}"
    );
    assert!(b.bridge.list().is_empty(), "a refused bind binds nothing");
    // Asked to wait, it binds and searches until the port appears, and the
    // answer says at once what it waits for, so a typo in the path shows.
    let status = b
        .bridge
        .bind(&path, "bench-1", SerialSettings::default(), true)
        .await
        .unwrap();
    assert_eq!(status.state, BoardState::Searching);
    let bridge: &SerialBridge = &b.bridge;
    assert_eq!(bridge.list().len(), 1);
    let reason = status.reason.unwrap_or_default();
    assert!(
        reason.contains(&path) && reason.contains("waiting"),
        "{reason}"
    );
    b.stop().await;
}

#[tokio::test]
async fn a_port_that_opens_but_never_speaks_the_protocol_is_not_a_connected_device() {
    use serialport::SerialPort;
    use std::io::Write;

    let b = Bench::new().await;
    let (mut board, port) = serialport::TTYPort::pair().unwrap();
    let path = port.name().unwrap();
    b.bridge
        .bind(&path, "mute", SerialSettings::default(), false)
        .await
        .unwrap();
    b.wait_state("mute", BoardState::Opened).await;
    board.write_all(b"rst:0x1 (POWERON_RESET)\r\n").unwrap();
    b.wait_event("mute", "serial.line", |e| {
        e.detail.detail_value()["text"] == "rst:0x1 (POWERON_RESET)"
    })
    .await;
    let d = b.hub.registry().get("mute").await.unwrap();
    assert_eq!(
        d.connection_state,
        ConnectionState::Disconnected,
        "an open port with a silent board is not an online device"
    );
    let err = b
        .hub
        .methods()
        .invoke("mute", MethodCall::new("echo", json!({})).timeouts(0, 5))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::DeviceNotOnline,
        "404103 at once, not a 504101 after the response timeout"
    );
    let _ = port.bytes_to_read();
    // Once it speaks the protocol it is connected.
    board.write_all(b"@@ HELLO\r\n").unwrap();
    b.wait_state("mute", BoardState::Connected).await;
    let d = b.hub.registry().get("mute").await.unwrap();
    assert_eq!(d.connection_state, ConnectionState::Connected);
    drop(port);
    b.stop().await;
}
