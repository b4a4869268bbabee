//! `hublet twin`: show, update with an etag, replace, and a stale etag's 412.

use crate::support::Served;

#[test]
fn show_update_and_replace_a_twin() {
    let s = Served::start();
    s.ok(&["device", "add", "t1"]);
    let fresh = s.json(&["twin", "show", "t1"]);
    assert_eq!(fresh["etag"], "AAAAAAAAAAE=");
    let updated = s.json(&[
        "twin",
        "update",
        "t1",
        r#"{"tags":{"room":"lab"},"properties":{"desired":{"setpoint":22}}}"#,
        "--etag",
        "AAAAAAAAAAE=",
    ]);
    assert_eq!(updated["tags"]["room"], "lab");
    assert_eq!(updated["properties"]["desired"]["setpoint"], 22);
    assert_eq!(updated["properties"]["desired"]["$version"], 2);

    let stale = s
        .cli(&[
            "--json",
            "twin",
            "update",
            "t1",
            r#"{"properties":{"desired":{"setpoint":5}}}"#,
            "--etag",
            "AAAAAAAAAAE=",
        ])
        .output()
        .unwrap();
    assert!(!stale.status.success());
    let err: serde_json::Value = serde_json::from_slice(&stale.stdout).unwrap();
    assert_eq!(err["error"]["code"], 412001, "{err}");

    let replaced = s.json(&[
        "twin",
        "replace",
        "t1",
        r#"{"properties":{"desired":{"mode":"eco"}}}"#,
    ]);
    assert_eq!(replaced["properties"]["desired"]["mode"], "eco");
    assert!(replaced["properties"]["desired"].get("setpoint").is_none());
    assert_eq!(
        replaced["tags"],
        serde_json::json!({}),
        "a replacement without tags clears them"
    );
}

#[test]
fn query_twins_across_pages() {
    let s = Served::start();
    for i in 0..7 {
        let id = format!("q{i}");
        s.ok(&["device", "add", &id]);
        let room = if i % 2 == 0 { "lab" } else { "office" };
        s.json(&[
            "twin",
            "update",
            &id,
            &format!(r#"{{"tags":{{"room":"{room}","n":{i}}}}}"#),
        ]);
    }
    let rows = s.json(&[
        "query",
        "SELECT deviceId, tags.n AS n FROM devices WHERE tags.room = 'lab' AND tags.n >= 2",
        "--page-size",
        "1",
    ]);
    assert_eq!(
        rows,
        serde_json::json!([{"deviceId": "q2", "n": 2}, {"deviceId": "q4", "n": 4}, {"deviceId": "q6", "n": 6}])
    );
    let counts = s.json(&[
        "query",
        "SELECT tags.room AS room, COUNT() AS n FROM devices GROUP BY tags.room",
    ]);
    assert_eq!(
        counts,
        serde_json::json!([{"room": "lab", "n": 4}, {"room": "office", "n": 3}])
    );
    let bad = s
        .cli(&["--json", "query", "SELECT * FROM devices WHERE"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn modules_with_their_own_connection_strings_and_twins() {
    let s = Served::start();
    s.ok(&["device", "add", "gw"]);
    let m = s.json(&["module", "add", "gw", "probe", "--managed-by", "lab"]);
    assert_eq!(m["moduleId"], "probe");
    assert_eq!(m["managedBy"], "lab");
    let cs = s.ok(&["module", "connection-string", "gw", "probe"]);
    assert!(
        cs.starts_with("HostName=localhost;DeviceId=gw;ModuleId=probe;SharedAccessKey="),
        "{cs}"
    );
    let listed = s.ok(&["module", "list", "gw"]);
    assert!(
        listed.contains("probe") && listed.contains("lab"),
        "{listed}"
    );
    let again = s.cli(&["module", "add", "gw", "probe"]).output().unwrap();
    assert_eq!(again.status.code(), Some(7), "409301 is a conflict");
    let twin = s.json(&[
        "twin",
        "update",
        "gw",
        "--module",
        "probe",
        r#"{"properties":{"desired":{"rate":5}}}"#,
    ]);
    assert_eq!(twin["moduleId"], "probe");
    assert_eq!(twin["properties"]["desired"]["rate"], 5);
    let device_twin = s.json(&["twin", "show", "gw"]);
    assert!(device_twin["properties"]["desired"].get("rate").is_none());
    s.ok(&["module", "rm", "gw", "probe"]);
    let gone = s.cli(&["module", "show", "gw", "probe"]).output().unwrap();
    assert_eq!(gone.status.code(), Some(3), "404010 is not found");
}

#[test]
fn watch_prints_the_twin_then_each_change_to_it() {
    use std::io::BufRead;
    let s = Served::start();
    s.ok(&["device", "add", "w1"]);
    s.ok(&["module", "add", "w1", "side"]);
    let mut child = std::process::Command::new(crate::support::bin())
        .arg("--data-dir")
        .arg(s.dir.path())
        .args(["--json", "twin", "watch", "w1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait = std::time::Duration::from_secs(30);
    assert_eq!(rx.recv_timeout(wait).unwrap(), "{", "the twin comes first");
    // A module's change is not the device's; the device's is shown.
    s.json(&[
        "twin",
        "update",
        "w1",
        "--module",
        "side",
        r#"{"tags":{"x":1}}"#,
    ]);
    s.json(&[
        "twin",
        "update",
        "w1",
        r#"{"properties":{"desired":{"setpoint":21}}}"#,
    ]);
    let event = loop {
        let line = rx.recv_timeout(wait).unwrap();
        if line.starts_with("{\"") {
            break serde_json::from_str::<serde_json::Value>(&line).unwrap();
        }
    };
    crate::support::terminate(&child);
    let _ = child.wait();
    assert_eq!(event["kind"], "twin.updated");
    assert_eq!(event["deviceId"], "w1");
    assert_eq!(
        event["detail"]["desired"],
        serde_json::json!({"setpoint": 21})
    );
}
