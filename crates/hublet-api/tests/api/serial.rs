//! `/api/serial/…` with an emulated board on a pseudo-terminal.

use std::time::Duration;

use hublet_serial::Emulator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;

async fn call(api: &Api, m: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut r = api.req(m, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn boards_are_bound_driven_and_refused_clearly_over_the_api() {
    let api = Api::new().await;
    let (s, ports) = call(&api, Method::GET, "/api/serial/ports", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ports.is_array());

    let (s, e) = call(
        &api,
        Method::POST,
        "/api/serial/boards",
        Some(json!({"port": ""})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 400004);
    assert_eq!(
        e["error"]["info"]["field"], "port",
        "the field at fault, as data"
    );
    let (s, e) = call(
        &api,
        Method::POST,
        "/api/serial/boards",
        Some(json!({"port": "/dev/no-such-port", "deviceId": "b9"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a missing port is refused at once"
    );
    assert_eq!(e["error"]["info"]["field"], "port");
    let bad = json!({"port": "/dev/null", "deviceId": "b1", "settings": {"baud": 0}});
    let (s, e) = call(&api, Method::POST, "/api/serial/boards", Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"].as_str().unwrap().contains("baud 0"));

    let emu = Emulator::start(Some("b1")).unwrap();
    let req = json!({"port": emu.path(), "deviceId": "b1", "settings": {"lineEnding": "crlf"}});
    let (s, b) = call(&api, Method::POST, "/api/serial/boards", Some(req)).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(b["settings"]["lineEnding"], "crlf");
    assert_eq!(
        b["settings"]["baud"], 115200,
        "unset settings keep their defaults"
    );
    for _ in 0..500 {
        let (_, b) = call(&api, Method::GET, "/api/serial/boards/b1", None).await;
        if b["state"] == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let send = |body: Value| call(&api, Method::POST, "/api/serial/boards/b1/send", Some(body));
    assert_eq!(send(json!({"text": "hi"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        send(json!({"hex": "41 0a"})).await.0,
        StatusCode::NO_CONTENT
    );
    let (s, e) = send(json!({"text": "a", "hex": "41"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exactly one")
    );
    let (s, e) = send(json!({"hex": "4"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("odd number")
    );

    for _ in 0..500 {
        if emu.received().iter().any(|l| l == b"A") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // What was typed reaches the board (after the bridge's own WHO probe).
    let typed: Vec<Vec<u8>> = emu
        .received()
        .into_iter()
        .filter(|l| !l.starts_with(b"@@ "))
        .collect();
    assert_eq!(typed, vec![b"hi".to_vec(), b"A".to_vec()]);
    let (s, console) = call(&api, Method::GET, "/api/serial/boards/b1/console", None).await;
    assert_eq!(s, StatusCode::OK);
    let out: Vec<&Value> = console
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["direction"] == "out" && l["frame"] == false)
        .map(|l| &l["text"])
        .collect();
    assert_eq!(
        out,
        [&json!("hi\r\n"), &json!("A\n")],
        "text gets the board's line ending, hex is sent as is"
    );
    let (_, tail) = call(
        &api,
        Method::GET,
        "/api/serial/boards/b1/console?tail=1",
        None,
    )
    .await;
    assert_eq!(tail.as_array().unwrap().len(), 1);

    let (s, e) = call(&api, Method::POST, "/api/serial/boards/nope/release", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["name"], "BoardNotFound");
    let (s, _) = call(&api, Method::DELETE, "/api/serial/boards/b1", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, boards) = call(&api, Method::GET, "/api/serial/boards", None).await;
    assert_eq!(boards, json!([]));
}
