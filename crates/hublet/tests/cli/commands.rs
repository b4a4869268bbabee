//! The everyday commands, with a real device on MQTT.

use std::time::Duration;

use rumqttc::mqttbytes::QoS;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions};

use crate::support::Served;

/// Connects `id` over the hub's plain MQTT listener as a device that
/// completes every C2D message (rumqttc acks automatically) and answers
/// every method with `{"ok": true}`.
fn device(s: &Served, id: &str) -> std::thread::JoinHandle<()> {
    let port: u16 = s.hub_json()["mqtt"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cs = s.ok(&["device", "connection-string", id]);
    let key = cs
        .trim()
        .split(";SharedAccessKey=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let se = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let token =
        hublet_core::auth::sas::create(&format!("localhost/devices/{id}"), &key, None, se).unwrap();
    let id = id.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let mut o = MqttOptions::new(&id, "127.0.0.1", port);
            o.set_credentials(format!("localhost/{id}/?api-version=2021-04-12"), token);
            o.set_keep_alive(Duration::from_secs(30));
            let (c, mut el) = AsyncClient::new(o, 16);
            c.subscribe(
                format!("devices/{id}/messages/devicebound/#"),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
            c.subscribe("$iothub/methods/POST/#", QoS::AtLeastOnce)
                .await
                .unwrap();
            let mut subacks = 0;
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        subacks += 1;
                        if subacks == 2 {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Incoming::Publish(p)))
                        if p.topic.starts_with("$iothub/methods/POST/") =>
                    {
                        let rid = p.topic.rsplit("$rid=").next().unwrap().to_string();
                        c.publish(
                            format!("$iothub/methods/res/200/?$rid={rid}"),
                            QoS::AtMostOnce,
                            false,
                            br#"{"ok":true}"#.to_vec(),
                        )
                        .await
                        .unwrap();
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("device subscribed");
    h
}

#[test]
fn add_send_with_full_ack_and_wait_for_the_feedback_invoke_and_export() {
    let s = Served::start();
    let added = s.json(&["device", "add", "thermo-1"]);
    assert_eq!(added["deviceId"], "thermo-1");
    let _dev = device(&s, "thermo-1");

    let out = s.ok(&[
        "send",
        "thermo-1",
        "{\"setpoint\":21}",
        "--ack",
        "full",
        "--wait-feedback",
        "20",
        "--prop",
        "unit=C",
        "--message-id",
        "cmd-1",
    ]);
    assert!(out.contains("feedback: Success"), "{out}");

    let r = s.json(&[
        "invoke",
        "thermo-1",
        "reboot",
        "--payload",
        "{\"delay\":1}",
        "--response-timeout",
        "10",
    ]);
    assert_eq!(r["status"], 200);
    assert_eq!(r["payload"], serde_json::json!({"ok": true}));

    let story: Vec<serde_json::Value> = s
        .ok(&["--json", "trace", "--correlation", "cmd-1"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = story.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "c2d.enqueued",
            "c2d.delivered",
            "c2d.completed",
            "feedback.produced"
        ]
    );
    let file = s.dir.path().join("trace.csv");
    s.ok(&[
        "trace",
        "export",
        "--format",
        "csv",
        "--out",
        file.to_str().unwrap(),
    ]);
    let mut rdr = csv::Reader::from_path(&file).unwrap();
    let kinds: Vec<String> = rdr.records().map(|r| r.unwrap()[3].to_string()).collect();
    for k in [
        "device.created",
        "device.attached",
        "c2d.enqueued",
        "c2d.delivered",
        "c2d.completed",
        "feedback.produced",
        "method.responded",
    ] {
        assert!(kinds.iter().any(|x| x == k), "export lacks {k}: {kinds:?}");
    }
    let jsonl = s.dir.path().join("trace.jsonl");
    s.ok(&[
        "trace",
        "export",
        "--format",
        "jsonl",
        "--out",
        jsonl.to_str().unwrap(),
    ]);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .collect();
    // The device is still connected, so events may follow the CSV export;
    // the JSON Lines export starts with the same events.
    let json_kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(json_kinds.len() >= kinds.len(), "{json_kinds:?}");
    assert_eq!(
        json_kinds[..kinds.len()],
        kinds.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );

    let fb = s.json(&["feedback"]);
    assert_eq!(fb[0]["statusCode"], "Success");
    assert_eq!(fb[0]["originalMessageId"], "cmd-1");
    let svc = s.ok(&["connection-string", "--service"]);
    assert!(
        svc.starts_with("HostName=localhost:") && svc.contains("SharedAccessKeyName=iothubowner")
    );
    let ca = s.dir.path().join("ca.pem");
    s.ok(&["ca", "export", "--out", ca.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
}

#[test]
fn failures_print_one_line_with_the_code_and_exit_distinctly() {
    let s = Served::start();
    s.ok(&["device", "add", "d1"]);
    let cases: [(&[&str], i32, &str); 6] = [
        (&["device", "show", "ghost"], 3, "404001"),
        (&["invoke", "d1", "m"], 4, "404103"),
        (&["send", "d1", "x", "--ttl", "0"], 2, "403009"),
        (&["device", "add", "bad id"], 2, "400004"),
        (&["device", "add", "d1"], 7, "409001"),
        (&["invoke", "d1", "m", "--payload", "{oops"], 2, "not JSON"),
    ];
    for (args, code, text) in cases {
        let out = s.cli(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(text), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    let out = s
        .cli(&["--json", "device", "show", "ghost"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], 404001);

    // A failed call names its request id, and that leads to its story.
    let out = s.cli(&["invoke", "d1", "reboot"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let rid = err
        .split("hublet trace --correlation ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .unwrap_or_else(|| panic!("no request id in: {err}"));
    let story: Vec<serde_json::Value> = s
        .ok(&["--json", "trace", "--correlation", rid])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = story.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["method.invoked", "method.failed"], "{err}");
    let out = s
        .cli(&["--json", "invoke", "d1", "reboot"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"]["requestId"].is_string(), "{v}");

    let q = s.json(&["queue", "d1"]);
    assert_eq!(q.as_array().unwrap().len(), 0);
    s.ok(&["send", "d1", "a"]);
    assert_eq!(s.json(&["purge", "d1"])["totalMessagesPurged"], 1);
}
