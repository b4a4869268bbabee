//! `hublet monitor`: device-to-cloud messages as the Event Hub-compatible
//! endpoint keeps them, from the earliest retained, with their properties.

use crate::support::Served;

/// Sends telemetry over IoT Hub's HTTP device endpoint (on the API port).
fn send(s: &Served, id: &str, body: &str, props: &[(&str, &str)]) {
    let api = s.hub_json()["api"].as_str().unwrap().to_string();
    let token = s.json(&["sas", "device", id])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut rb = reqwest::Client::new()
            .post(format!(
                "{api}/devices/{id}/messages/events?api-version=2021-04-12"
            ))
            .header("Authorization", token)
            .body(body.to_string());
        for (k, v) in props {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    });
}

#[test]
fn monitor_prints_each_devices_messages_in_order_with_their_properties() {
    let s = Served::start();
    s.ok(&["device", "add", "m1"]);
    s.ok(&["device", "add", "m2"]);
    send(
        &s,
        "m1",
        r#"{"t":1}"#,
        &[("iothub-app-room", "lab"), ("iothub-messageid", "x1")],
    );
    send(&s, "m2", "other device", &[]);
    send(&s, "m1", r#"{"t":2}"#, &[]);
    let out = s.ok(&[
        "--json", "monitor", "m1", "--from", "earliest", "--count", "2",
    ]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{out}");
    assert_eq!(events[0]["body"]["text"], r#"{"t":1}"#);
    assert_eq!(events[1]["body"]["text"], r#"{"t":2}"#);
    assert_eq!(events[0]["deviceId"], "m1");
    assert_eq!(events[0]["messageId"], "x1");
    assert_eq!(events[0]["properties"]["room"], "lab");
    assert_eq!(events[0]["via"], "http");
    assert_eq!(events[0]["partition"], events[1]["partition"]);
    assert!(
        events[1]["sequenceNumber"].as_i64().unwrap()
            > events[0]["sequenceNumber"].as_i64().unwrap()
    );

    let human = s.ok(&[
        "monitor",
        "--from",
        "earliest",
        "--count",
        "3",
        "--properties",
    ]);
    assert!(
        human.contains(r#"m1 [partition"#) && human.contains("room=lab"),
        "{human}"
    );
    assert!(human.contains("other device"), "{human}");
}

#[test]
fn the_endpoints_partitions_consumer_groups_and_connection_string() {
    let s = Served::start();
    s.ok(&["device", "add", "p1"]);
    send(&s, "p1", "x", &[]);
    s.ok(&["events", "consumer-group-add", "dashboards"]);
    let again = s
        .cli(&["events", "consumer-group-add", "dashboards"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "it exists: bad input");
    let info = s.json(&["events", "info"]);
    assert_eq!(info["name"], "localhost");
    assert_eq!(
        info["consumerGroups"],
        serde_json::json!(["$Default", "dashboards"])
    );
    let parts = info["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    assert_eq!(
        parts.iter().filter(|p| p["isEmpty"] == false).count(),
        1,
        "one device, one partition"
    );
    s.ok(&["events", "consumer-group-rm", "dashboards"]);
    let cs = s.ok(&["connection-string", "--events"]);
    assert!(
        cs.starts_with("Endpoint=sb://localhost:") && cs.trim().ends_with(";EntityPath=localhost"),
        "the test hub's AMQP port is not 5671, so it is named: {cs}"
    );
}
