//! Each behaviour of a profile, seen in the hub's trace.

use std::time::Duration;

use hublet_core::{AckMode, MethodCall, NewMessage};
use serde_json::json;

use crate::support::Lab;

async fn invoke(
    lab: &Lab,
    device: &str,
    name: &str,
    payload: serde_json::Value,
    response_timeout: u64,
) -> tokio::task::JoinHandle<hublet_core::HubResult<hublet_core::MethodResponse>> {
    let hub = lab.hub.clone();
    let (device, name) = (device.to_string(), name.to_string());
    tokio::spawn(async move {
        hub.methods()
            .invoke(
                &device,
                MethodCall::new(name, payload).timeouts(30, response_timeout),
            )
            .await
    })
}

fn msg(id: &str, ack: AckMode) -> NewMessage {
    NewMessage {
        message_id: Some(id.into()),
        ack,
        ..NewMessage::text(format!("{{\"cmd\":\"{id}\"}}"))
    }
}

#[tokio::test]
async fn method_replies_follow_the_profile_templates_delays_and_failures() {
    let lab = Lab::new().await;
    let t = lab.start("thermostat", "t", 1).await;
    lab.wait(&t, "device.attached", 1).await;
    lab.online(&t).await;
    let call = invoke(&lab, &t, "setSetpoint", json!({"setpoint": 22.5}), 30).await;
    lab.wait_sim(&t, "answered", |s| s.methods_answered == 1)
        .await;
    assert!(
        !call.is_finished(),
        "the reply waits for its 100-500 ms delay"
    );
    lab.advance(Duration::from_secs(1)).await;
    let r = call.await.unwrap().unwrap();
    assert_eq!((r.status, r.payload), (200, json!({"accepted": 22.5})));

    let r = invoke(&lab, &t, "getTemperature", json!(null), 30)
        .await
        .await
        .unwrap()
        .unwrap();
    let temp = r.payload["temperature"].as_f64().unwrap();
    assert!((19.0..=23.0).contains(&temp), "{temp}");
    let r = invoke(&lab, &t, "selfDestruct", json!(null), 30)
        .await
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 404, "the default entry answers unknown methods");
    assert!(
        r.payload["error"]
            .as_str()
            .unwrap()
            .contains("selfDestruct")
    );

    let lock = lab.start("door-lock", "lock", 1).await;
    lab.wait(&lock, "device.attached", 1).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let before = lab
            .sim
            .list()
            .iter()
            .find(|s| s.device_id == lock)
            .unwrap()
            .methods_answered;
        let call = invoke(&lab, &lock, "unlock", json!({}), 30).await;
        lab.wait_sim(&lock, "answered", |s| s.methods_answered == before + 1)
            .await;
        lab.advance(Duration::from_millis(300)).await;
        statuses.push(call.await.unwrap().unwrap().status);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 423],
        "unlock jams after 5 calls"
    );
    assert_eq!(
        lab.events(&lock, "sim.action")
            .await
            .iter()
            .filter(|e| e.detail.detail_value()["action"] == "failMethod")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_never_replying_method_gives_504101() {
    let lab = Lab::new().await;
    let d = lab.start("unresponsive", "mute", 1).await;
    lab.wait(&d, "device.attached", 1).await;
    let call = invoke(&lab, &d, "ping", json!({}), 5).await;
    lab.wait(&d, "method.delivered", 1).await;
    lab.wait(&d, "sim.action", 1).await;
    lab.advance(Duration::from_secs(5)).await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.code().number(), 504101);
    lab.wait(&d, "method.timed_out", 1).await;
}

#[tokio::test]
async fn a_withheld_ack_leads_to_redelivery_with_a_higher_attempt() {
    let lab = Lab::new().await;
    let d = lab.start("unresponsive", "mute", 1).await;
    lab.online(&d).await;
    lab.hub
        .mailbox()
        .send(&d, msg("m1", AckMode::Full))
        .await
        .unwrap();
    let first = lab.wait(&d, "c2d.delivered", 1).await;
    assert_eq!(first[0].detail.detail_value()["attempt"], 1);
    lab.wait(&d, "sim.action", 1).await;
    lab.advance(Duration::from_secs(60)).await;
    let again = lab.wait(&d, "c2d.delivered", 2).await;
    assert_eq!(
        again[1].detail.detail_value()["attempt"],
        2,
        "redelivered with a higher attempt count"
    );
    lab.wait(&d, "c2d.lock_expired", 1).await;
    let withheld = lab.wait(&d, "sim.action", 2).await;
    assert!(
        withheld
            .iter()
            .all(|e| e.detail.detail_value()["action"] == "withholdAck")
    );
    assert_eq!(
        withheld[1].detail.detail_value()["detail"]["redelivery"],
        true,
        "the resend carries DUP"
    );
}

#[tokio::test]
async fn a_rejecting_device_gives_rejected_feedback_and_an_abandoning_one_raises_the_delivery_count()
 {
    let lab = Lab::new().await;
    let rejecter = lab
        .start_toml("name = \"always-reject\"\ndescription = \"x\"\n[c2d]\naction = \"reject\"\nprobability = 1.0\n", "rej", 1)
        .await;
    let abandoner = lab
        .start_toml("name = \"always-abandon\"\ndescription = \"x\"\n[c2d]\naction = \"abandon\"\nprobability = 1.0\n", "ab", 1)
        .await;
    lab.online(&rejecter).await;
    lab.online(&abandoner).await;
    lab.hub
        .mailbox()
        .send(&rejecter, msg("r1", AckMode::Full))
        .await
        .unwrap();
    lab.hub
        .mailbox()
        .send(&abandoner, msg("a1", AckMode::Full))
        .await
        .unwrap();
    lab.advance_by_steps(Duration::from_secs(4), Duration::from_secs(1))
        .await;
    let fb = lab.wait(&rejecter, "feedback.produced", 1).await;
    assert_eq!(fb[0].detail.detail_value()["statusCode"], "Rejected");
    let delivered = lab.wait(&rejecter, "c2d.delivered", 1).await;
    assert_eq!(
        delivered[0].detail.detail_value()["via"],
        "http",
        "reject needs the HTTP device endpoints"
    );
    lab.wait(&abandoner, "c2d.abandoned", 2).await;
    let q = lab.hub.mailbox().list(&abandoner).await.unwrap();
    assert!(
        q.is_empty() || q[0].delivery_count >= 2,
        "each abandon counts a delivery"
    );
}

#[tokio::test]
async fn the_sleepy_sensor_gets_messages_queued_while_asleep_when_it_wakes() {
    let lab = Lab::new().await;
    let d = lab.start("sleepy-sensor", "sleepy", 1).await;
    lab.online(&d).await;
    lab.advance(Duration::from_secs(10)).await;
    let detached = lab.wait(&d, "device.detached", 1).await;
    assert_eq!(
        detached[0].detail.detail_value()["reason"],
        "closed",
        "a planned sleep is a clean disconnect"
    );
    lab.hub
        .mailbox()
        .send(&d, msg("while-asleep", AckMode::Full))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        lab.events(&d, "c2d.delivered").await.is_empty(),
        "nothing is delivered while it sleeps"
    );
    assert_eq!(
        lab.hub.mailbox().list(&d).await.unwrap().len(),
        1,
        "the message waits in its queue"
    );
    lab.advance(Duration::from_secs(50)).await;
    lab.wait(&d, "device.attached", 2).await;
    let fb = lab.wait(&d, "feedback.produced", 1).await;
    assert_eq!(fb[0].detail.detail_value()["statusCode"], "Success");
    assert_eq!(fb[0].message_id.as_deref(), Some("while-asleep"));
}

#[tokio::test]
async fn telemetry_is_sent_on_the_interval_with_rendered_templates() {
    let lab = Lab::new().await;
    let d = lab.start("thermostat", "t", 9).await;
    lab.online(&d).await;
    for n in 1..=3 {
        lab.advance(Duration::from_secs(10)).await;
        lab.wait(&d, "telemetry.received", n).await;
    }
    let evs = lab.events(&d, "telemetry.received").await;
    for (i, e) in evs.iter().enumerate() {
        let body: serde_json::Value =
            serde_json::from_str(e.detail.detail_value()["body"]["text"].as_str().unwrap())
                .unwrap();
        assert_eq!(body["seq"], i as u64 + 1);
        let h = body["humidity"].as_f64().unwrap();
        assert!((40.0..60.0).contains(&h), "{h}");
        assert_eq!(e.detail.detail_value()["contentType"], "application/json");
    }
}

#[tokio::test]
async fn a_flaky_link_drops_and_reconnects_with_back_off() {
    let lab = Lab::new().await;
    let d = lab
        .start_toml(
            "name = \"always-drops\"\ndescription = \"x\"\n[connectivity]\ndrop_probability = 1.0\nbackoff_initial_secs = 2\nbackoff_max_secs = 4\n",
            "drop",
            1,
        )
        .await;
    lab.online(&d).await;
    lab.advance(Duration::from_secs(1)).await;
    let gone = lab.wait(&d, "device.detached", 1).await;
    assert_eq!(
        gone[0].detail.detail_value()["reason"],
        "connectionLost",
        "a drop is not a clean disconnect"
    );
    lab.wait_sim(&d, "reconnecting", |s| s.state == "reconnecting")
        .await;
    lab.advance(Duration::from_secs(2)).await;
    lab.wait(&d, "device.attached", 2).await;
    let actions = lab.wait(&d, "sim.action", 2).await;
    assert_eq!(actions[0].detail.detail_value()["action"], "linkDropped");
    assert_eq!(actions[1].detail.detail_value()["action"], "reconnect");
    assert_eq!(
        actions[1].detail.detail_value()["detail"]["backoffSecs"],
        2.0
    );
}

#[tokio::test]
async fn a_thermostat_reports_its_twin_and_acknowledges_desired_properties() {
    use hublet_core::twin::{TwinOp, TwinWrite};
    let lab = Lab::new().await;
    let t = lab.start("thermostat", "t", 3).await;
    lab.online(&t).await;
    let reported = lab.wait(&t, "twin.updated", 1).await;
    assert_eq!(reported[0].detail.detail_value()["by"], "device");
    let twin = lab.hub.twins().get(&t).await.unwrap().to_json();
    assert_eq!(twin["properties"]["reported"]["firmware"], "1.4.2");
    assert_eq!(twin["properties"]["reported"]["serialNumber"], t.as_str());

    lab.hub
        .twins()
        .write(
            &t,
            TwinOp::Patch,
            TwinWrite {
                desired: serde_json::from_value(json!({"setpoint": 22})).ok(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    // The answer waits for its 100-500 ms delay on the hub's clock.
    let mut acked = serde_json::Value::Null;
    for _ in 0..50 {
        lab.advance(Duration::from_millis(100)).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let twin = lab.hub.twins().get(&t).await.unwrap().to_json();
        acked = twin["properties"]["reported"]["setpoint"].clone();
        if !acked.is_null() {
            break;
        }
    }
    assert_eq!(
        acked,
        json!({"value": 22, "ac": 200, "av": 2, "ad": "completed"})
    );
}

#[tokio::test]
async fn a_twin_is_reported_on_a_timer_and_a_declined_setting_keeps_the_old_value() {
    use hublet_core::twin::{TwinOp, TwinWrite};
    let lab = Lab::new().await;
    let d = lab
        .start_toml(
            "name = \"stubborn\"\ndescription = \"x\"\n[twin]\nreported = { mode = 1 }\ndesired = \"decline\"\nperiodic = { uptime = \"{{uptime}}\", beat = \"{{count}}\" }\nreport_every_secs = 30\n",
            "stub",
            5,
        )
        .await;
    lab.online(&d).await;
    let desire = |v: i64| TwinWrite {
        desired: serde_json::from_value(json!({"mode": v})).ok(),
        ..Default::default()
    };
    // The report at connect; no periodic one before its period is over.
    lab.wait(&d, "twin.updated", 1).await;
    lab.advance(Duration::from_secs(29)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(lab.events(&d, "twin.updated").await.len(), 1);
    lab.advance(Duration::from_secs(1)).await;
    lab.wait(&d, "twin.updated", 2).await;
    lab.advance(Duration::from_secs(30)).await;
    let reports = lab.wait(&d, "twin.updated", 3).await;
    assert!(
        reports
            .iter()
            .all(|e| e.detail.detail_value()["by"] == "device")
    );
    let twin = lab.hub.twins().get(&d).await.unwrap().to_json();
    assert!(twin["properties"]["reported"]["uptime"].as_f64().unwrap() >= 60.0);

    lab.hub
        .twins()
        .write(&d, TwinOp::Patch, desire(3), None)
        .await
        .unwrap();
    lab.wait(&d, "twin.updated", 5).await;
    let twin = lab.hub.twins().get(&d).await.unwrap().to_json();
    assert_eq!(
        twin["properties"]["reported"]["mode"],
        json!({"value": 1, "ac": 400, "av": 2, "ad": "declined"}),
        "the reported value differs from the desired one"
    );
}
