//! Fleets: many devices, seeds, persistence.

use std::time::Duration;

use hublet_core::{AckMode, DeviceKind, NewMessage};
use hublet_sim::FleetRequest;

use crate::support::Lab;

const COIN: &str = "name = \"coin\"\ndescription = \"rejects half\"\n[c2d]\naction = \"reject\"\nprobability = 0.5\n";

/// Sends ten messages one after another and records how each ended.
async fn scripted_outcomes(seed: u64) -> Vec<String> {
    let lab = Lab::new().await;
    let d = lab.start_toml(COIN, "coin", seed).await;
    lab.wait(&d, "device.attached", 1).await;
    let mut out = Vec::new();
    for i in 0..10 {
        let id = format!("m{i}");
        lab.hub
            .mailbox()
            .send(
                &d,
                NewMessage {
                    message_id: Some(id.clone()),
                    ack: AckMode::Full,
                    ..NewMessage::text("x")
                },
            )
            .await
            .unwrap();
        loop {
            lab.advance(Duration::from_secs(1)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let fb = lab.events(&d, "feedback.produced").await;
            if let Some(e) = fb
                .iter()
                .find(|e| e.message_id.as_deref() == Some(id.as_str()))
            {
                out.push(format!(
                    "{id}:{}",
                    e.detail.detail_value()["statusCode"].as_str().unwrap()
                ));
                break;
            }
        }
    }
    lab.stop().await;
    out
}

#[tokio::test]
async fn the_same_seed_gives_the_same_story() {
    let a = scripted_outcomes(7).await;
    let b = scripted_outcomes(7).await;
    assert_eq!(a, b, "same seed, same outcomes");
    assert!(
        a.iter().any(|o| o.ends_with("Rejected")) && a.iter().any(|o| o.ends_with("Success")),
        "{a:?}"
    );
    let c = scripted_outcomes(8).await;
    assert_ne!(a, c, "another seed, another story");
}

#[tokio::test]
async fn fleets_are_registered_as_simulated_listed_stopped_and_restored() {
    let lab = Lab::new().await;
    let ids = lab
        .sim
        .start(FleetRequest {
            profile: "thermostat".into(),
            count: Some(5),
            prefix: Some("room".into()),
            seed: Some(1),
            persist: true,
            ids: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(ids, ["room-1", "room-2", "room-3", "room-4", "room-5"]);
    for id in &ids {
        assert_eq!(
            lab.hub.registry().get(id).await.unwrap().kind,
            DeviceKind::Simulated
        );
        lab.wait(id, "device.attached", 1).await;
    }
    assert_eq!(lab.sim.list().len(), 5);
    assert!(lab.sim.list().iter().all(|s| s.state == "online"));
    lab.sim.stop("room-5").await.unwrap();
    assert_eq!(lab.sim.list().len(), 4);
    assert!(lab.sim.stop("room-5").await.is_err());

    let real = lab
        .hub
        .registry()
        .create(hublet_core::NewDevice::named("real-1"))
        .await
        .unwrap();
    let beside = lab
        .sim
        .start(FleetRequest {
            profile: "thermostat".into(),
            count: Some(2),
            prefix: Some("real".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        beside,
        ["real-2", "real-3"],
        "a real device is never taken over: the fleet takes the next free ids"
    );
    assert_eq!(
        lab.hub.registry().get("real-1").await.unwrap().kind,
        hublet_core::DeviceKind::Standard
    );
    let _ = real;
    assert!(
        lab.sim
            .start(FleetRequest {
                profile: "nope".into(),
                ..Default::default()
            })
            .await
            .is_err()
    );

    let dir = lab.stop().await;
    let lab = Lab::open(dir).await;
    assert_eq!(
        lab.sim.restore().await.unwrap(),
        4,
        "persisted devices come back, the stopped one does not"
    );
    lab.wait("room-1", "device.attached", 2).await;
    assert_eq!(lab.sim.stop_all().await.unwrap(), 4);
    assert!(lab.sim.list().is_empty());
}

#[tokio::test]
async fn user_profiles_are_found_by_name_and_no_name_reaches_outside_their_directory() {
    let lab = Lab::new().await;
    // A user profile replaces the built-in of the same name.
    let own = "name = \"thermostat\"\ndescription = \"mine\"\n";
    lab.sim.save_profile("thermostat", own).await.unwrap();
    assert_eq!(lab.sim.profile("thermostat").unwrap().description, "mine");
    assert!(lab.sim.profile("door-lock").is_ok(), "built-ins stay");
    assert!(lab.sim.profile("nothing-like-it").is_err());

    // A name that is a path is no profile: nothing outside is read or deleted.
    let outside = lab.dir.path().join("outside.toml");
    std::fs::write(&outside, own).unwrap();
    assert!(lab.sim.profile("../outside").is_err());
    assert!(lab.sim.delete_profile("../outside").is_err());
    assert!(outside.exists());
    lab.sim.delete_profile("thermostat").unwrap();
    assert_eq!(lab.sim.profile("thermostat").unwrap().name, "thermostat");
    assert_ne!(lab.sim.profile("thermostat").unwrap().description, "mine");
}
