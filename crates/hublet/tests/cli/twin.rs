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
