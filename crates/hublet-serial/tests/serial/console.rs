//! The console: every line kept with its time, noise survives, nothing is
//! lost at full speed, and what the developer types reaches the board.

use std::time::Duration;

use hublet_core::MethodCall;
use hublet_serial::{LineDirection, input};
use serde_json::json;

use crate::support::{Bench, wait_line};

#[tokio::test]
async fn garbage_and_binary_noise_are_console_output_and_the_bridge_carries_on() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    emu.println("@@ FLY away").unwrap();
    emu.println("@@ DONE").unwrap();
    emu.write_raw(b"\x00\xff\xfe\x80 brown-out\r\n").unwrap();
    emu.write_raw(b"@@ \xc3\x28 half a frame\n").unwrap();
    emu.println("plain text after the noise").unwrap();
    b.wait_event("bench-1", "serial.line", |e| {
        e.detail.detail_value()["text"] == "plain text after the noise"
    })
    .await;
    let lines = b.events("bench-1", "serial.line").await;
    let fly = lines
        .iter()
        .find(|e| e.detail.detail_value()["text"] == "@@ FLY away")
        .unwrap();
    assert!(
        fly.detail.detail_value()["warning"]
            .as_str()
            .unwrap()
            .contains("unknown frame 'FLY'")
    );
    assert_eq!(fly.detail.detail_value()["frame"], false);
    let done = lines
        .iter()
        .find(|e| e.detail.detail_value()["text"] == "@@ DONE")
        .unwrap();
    assert!(
        done.detail.detail_value()["warning"]
            .as_str()
            .unwrap()
            .contains("lock token")
    );
    let noise = lines
        .iter()
        .find(|e| e.detail.detail_value()["hex"] == "00 ff fe 80 20 62 72 6f 77 6e 2d 6f 75 74")
        .expect("bytes that are not UTF-8 are kept as hex");
    assert_eq!(
        noise.detail.detail_value()["text"],
        "\u{0}\\xff\\xfe\\x80 brown-out",
        "the readable part stays text; only the bad bytes are escaped"
    );
    assert!(lines.iter().any(|e| {
        e.detail.detail_value()["hex"]
            .as_str()
            .is_some_and(|h| h.starts_with("40 40 20 c3 28"))
            && e.detail.detail_value()["warning"].as_str().is_some()
    }));
    // Still a working device.
    let r = b
        .hub
        .methods()
        .invoke("bench-1", MethodCall::new("echo", json!({"x": 1})))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    b.stop().await;
}

#[tokio::test]
async fn every_line_has_a_millisecond_host_timestamp_and_a_prompt_without_newline_still_shows() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    b.clock.advance(Duration::from_millis(1234));
    emu.println("tick").unwrap();
    let tick = b
        .wait_event("bench-1", "serial.line", |e| {
            e.detail.detail_value()["text"] == "tick"
        })
        .await;
    let detail = tick.detail.detail_value();
    let at = detail["receivedAt"].as_str().unwrap();
    assert!(
        at.ends_with(".234Z"),
        "host time at ms precision from the hub's clock: {at}"
    );
    emu.write_raw(b"login: ").unwrap();
    let prompt = b
        .wait_event("bench-1", "serial.line", |e| {
            e.detail.detail_value()["text"] == "login: "
        })
        .await;
    assert_eq!(prompt.detail.detail_value()["partial"], true);
    b.stop().await;
}

#[tokio::test]
async fn a_board_flooding_one_megabyte_at_full_speed_loses_no_line() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    let pad = "x".repeat(80);
    let mut flood = Vec::new();
    let mut n = 0usize;
    while flood.len() < 1 << 20 {
        flood.extend_from_slice(format!("flood {n:06} {pad}\r\n").as_bytes());
        n += 1;
    }
    let writer = std::thread::spawn(move || {
        emu.write_raw(&flood).unwrap();
        emu
    });
    let last = format!("flood {:06} {pad}", n - 1);
    for _ in 0..3000 {
        if b.bridge.status("bench-1").unwrap().lines_in as usize >= n + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _emu = writer.join().unwrap();
    let got: Vec<String> = b
        .console_in("bench-1")
        .await
        .into_iter()
        .filter(|l| l.starts_with("flood "))
        .collect();
    assert_eq!(got.len(), n, "every line of the flood is in the trace");
    for (i, l) in got.iter().enumerate() {
        assert_eq!(l, &format!("flood {i:06} {pad}"), "in order and whole");
    }
    assert_eq!(got.last(), Some(&last));
    b.stop().await;
}

#[tokio::test]
async fn boot_output_is_there_for_a_console_opened_later() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    for i in 0..5 {
        emu.println(&format!("boot {i}")).unwrap();
    }
    b.wait_event("bench-1", "serial.line", |e| {
        e.detail.detail_value()["text"] == "boot 4"
    })
    .await;
    let console = b.bridge.console("bench-1", 2000).await.unwrap().unwrap();
    let texts: Vec<_> = console
        .iter()
        .filter(|l| l.direction == LineDirection::In)
        .filter_map(|l| l.text.clone())
        .collect();
    assert_eq!(texts[0], "boot: emulated board ready");
    assert!(texts.ends_with(&["boot 0", "boot 1", "boot 2", "boot 3", "boot 4"].map(String::from)));
    let out: Vec<_> = console
        .iter()
        .filter(|l| l.direction == LineDirection::Out)
        .filter_map(|l| l.text.clone())
        .collect();
    assert_eq!(out, ["@@ WHO"], "the bridge's probe is the only line out");
    b.stop().await;
}

#[tokio::test]
async fn text_hex_and_escaped_bytes_reach_the_board_with_its_line_ending() {
    let b = Bench::new().await;
    let emu = b.board("b0", "bench-1").await;
    b.bridge.send_line("bench-1", "status").await.unwrap();
    wait_line(&emu, |l| l == "status").await;
    b.bridge
        .send("bench-1", input::parse_hex("41 54 0d 0a").unwrap())
        .await
        .unwrap();
    wait_line(&emu, |l| l == "AT").await;
    b.bridge
        .send("bench-1", input::parse_escaped(r"\x01raw\n").unwrap())
        .await
        .unwrap();
    wait_line(&emu, |l| l == "\u{1}raw").await;
    let sent: Vec<_> = b
        .events("bench-1", "serial.sent")
        .await
        .into_iter()
        .filter(|e| e.detail.detail_value()["frame"] == false)
        .collect();
    assert_eq!(sent[0].detail.detail_value()["text"], "status\n");
    assert_eq!(sent[0].detail.detail_value()["frame"], false);
    assert!(
        sent.iter()
            .all(|e| e.detail.detail_value()["sentAt"].is_string())
    );
    assert_eq!(
        b.bridge.status("bench-1").unwrap().lines_out,
        4,
        "three sent, and the WHO probe"
    );
    let err = b.bridge.send_line("nobody", "x").await.unwrap_err();
    assert!(err.to_string().contains("not a serial board"));
    b.stop().await;
}
