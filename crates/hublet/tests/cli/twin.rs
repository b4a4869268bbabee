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
