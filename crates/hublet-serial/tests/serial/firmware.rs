//! The reference firmware in `docs/serial-protocol.md`, compiled for the
//! host with a small Arduino shim and run on a pseudo-terminal against the
//! bridge: the documented sketch must really work.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hublet_core::{AckMode, MethodCall, NewMessage};
use hublet_serial::{BoardState, SerialSettings};
use serde_json::json;

use crate::support::Bench;

/// The sketch exactly as the docs show it.
fn sketch_from_docs() -> String {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/serial-protocol.md");
    let text = std::fs::read_to_string(&docs).unwrap();
    let start = text
        .find("<!-- reference-firmware:begin -->")
        .expect("begin marker");
    let end = text
        .find("<!-- reference-firmware:end -->")
        .expect("end marker");
    let block = &text[start..end];
    let code = block
        .split_once("```cpp\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(code, _)| code)
        .expect("a ```cpp block between the markers");
    code.to_string()
}

struct Firmware {
    child: Child,
    port: String,
}

impl Drop for Firmware {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn build_and_run(dir: &Path) -> Firmware {
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/firmware");
    let sketch = dir.join("hublet_board.cpp");
    std::fs::write(&sketch, sketch_from_docs()).unwrap();
    let exe: PathBuf = dir.join("hublet_board");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let out = Command::new(&cxx)
        .args(["-std=c++11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(&shim)
        .arg(&sketch)
        .arg(shim.join("host_main.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C++ compiler '{cxx}' (install g++): {e}"));
    assert!(
        out.status.success(),
        "the reference firmware does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = Command::new(&exe).stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first
        .trim()
        .strip_prefix("PTY ")
        .expect("PTY line")
        .to_string();
    Firmware { child, port }
}

fn msg(id: &str, body: &str) -> NewMessage {
    NewMessage {
        message_id: Some(id.into()),
        ack: AckMode::Full,
        ..NewMessage::text(body)
    }
}

#[tokio::test]
async fn the_documented_arduino_sketch_handles_c2d_and_methods_through_the_bridge() {
    let b = Bench::new().await;
    let fw = build_and_run(b.dir.path());
    b.bridge
        .bind(&fw.port, "bench-7", SerialSettings::default(), false)
        .await
        .unwrap();
    b.wait_state("bench-7", BoardState::Connected).await;
    let hello = b
        .wait_event("bench-7", "serial.port", |e| {
            e.detail.detail_value()["event"] == "hello"
        })
        .await;
    assert_eq!(hello.detail.detail_value()["firmware"], "1.0.0");

    let fb = |id: &'static str| {
        let b = &b;
        async move {
            b.wait_event("bench-7", "feedback.produced", |e| {
                e.message_id.as_deref() == Some(id)
            })
            .await
            .detail
            .detail_value()["statusCode"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    b.hub
        .mailbox()
        .send("bench-7", msg("m-on", "on"))
        .await
        .unwrap();
    assert_eq!(fb("m-on").await, "Success");
    let state = b
        .hub
        .methods()
        .invoke("bench-7", MethodCall::new("getState", json!({})))
        .await
        .unwrap();
    assert_eq!(state.status, 200);
    assert_eq!(state.payload["led"], true);
    assert!(state.payload["uptime"].is_u64());

    b.hub
        .mailbox()
        .send("bench-7", msg("m-dance", "dance"))
        .await
        .unwrap();
    assert_eq!(fb("m-dance").await, "Rejected");
    // The reference firmware answers WHO with its HELLO.
    let hellos = |events: Vec<hublet_core::TraceEvent>| {
        events
            .iter()
            .filter(|e| e.detail.detail_value()["text"] == "@@ HELLO bench-7 1.0.0")
            .count()
    };
    let before = hellos(b.events("bench-7", "serial.line").await);
    b.bridge.send_line("bench-7", "@@ WHO").await.unwrap();
    for _ in 0..500 {
        if hellos(b.events("bench-7", "serial.line").await) > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(hellos(b.events("bench-7", "serial.line").await) > before);
    b.hub
        .mailbox()
        .send("bench-7", msg("m-off", "off"))
        .await
        .unwrap();
    assert_eq!(fb("m-off").await, "Success");

    let blink = b
        .hub
        .methods()
        .invoke("bench-7", MethodCall::new("blink", json!({"times": 2})))
        .await
        .unwrap();
    assert_eq!(
        (blink.status, blink.payload.clone()),
        (200, json!({"blinked": 2}))
    );
    let bad = b
        .hub
        .methods()
        .invoke("bench-7", MethodCall::new("blink", json!({"times": 99})))
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
    let state = b
        .hub
        .methods()
        .invoke("bench-7", MethodCall::new("getState", json!(null)))
        .await
        .unwrap();
    assert_eq!(state.payload["led"], false);
    let unknown = b
        .hub
        .methods()
        .invoke("bench-7", MethodCall::new("selfDestruct", json!({})))
        .await
        .unwrap();
    assert_eq!(
        (unknown.status, unknown.payload),
        (404, json!({"error": "unknown method"}))
    );

    // The device twin: the sketch reported its firmware at boot, follows
    // the desired "led" and reports it back.
    let reported = |b: &Bench| {
        let hub = b.hub.clone();
        async move { hub.twins().get("bench-7").await.unwrap().state.reported.doc }
    };
    for _ in 0..500 {
        if reported(&b).await.get("firmware").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(reported(&b).await["firmware"], "1.0.0");
    b.hub
        .twins()
        .write(
            "bench-7",
            hublet_core::twin::TwinOp::Patch,
            hublet_core::twin::TwinWrite {
                desired: serde_json::from_value(json!({"led": true})).ok(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    for _ in 0..500 {
        if reported(&b).await.get("led") == Some(&json!(true)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(reported(&b).await["led"], true);
    let state = b
        .hub
        .methods()
        .invoke("bench-7", MethodCall::new("getState", json!({})))
        .await
        .unwrap();
    assert_eq!(state.payload["led"], true, "the LED follows the twin");

    // Text typed in the console is not a frame; the sketch says so.
    b.bridge.send_line("bench-7", "help").await.unwrap();
    b.wait_event("bench-7", "serial.line", |e| {
        e.detail.detail_value()["text"] == "unknown command: help"
    })
    .await;
    drop(fw);
    b.stop().await;
}
