//! The Event Hub-compatible event log: partitions by device, sequence
//! numbers and offsets that only grow (across restarts and retention),
//! positions, partition numbers, retention, consumer groups.

use std::collections::BTreeMap;
use std::time::Duration;

use hublet_core::attach::{AttachRequest, Telemetry};
use hublet_core::events::{Position, partition_of};
use hublet_core::{Hub, HubOptions, HubSettings, ManualClock, NewDevice, NewModule};

use crate::support::TestHub;

fn telemetry(body: &str) -> Telemetry {
    Telemetry {
        message_id: Some(format!("m-{body}")),
        content_type: Some("application/json".into()),
        properties: BTreeMap::from([
            ("k".to_string(), Some("v".to_string())),
            ("bare".into(), None),
        ]),
        body: body.as_bytes().to_vec(),
        ..Telemetry::default()
    }
}

async fn send(hub: &Hub, key: &str, body: &str) {
    hub.device_telemetry(key, "test", telemetry(body))
        .unwrap()
        .committed()
        .await
        .unwrap();
}

#[tokio::test]
async fn telemetry_is_kept_in_its_devices_partition_in_order_with_everything_it_carried() {
    let t = TestHub::new().await;
    t.device("a").await;
    t.device("b").await;
    let (att, _rx) = t
        .hub
        .attach("a", AttachRequest::trusted("mqtt", None, "test"))
        .await
        .unwrap();
    for i in 0..5 {
        // Queued without waiting, as a streaming transport does: the order holds.
        att.telemetry(telemetry(&format!("a{i}"))).unwrap();
    }
    send(&t.hub, "b", "b0").await;
    t.hub.trace().flush().await.unwrap();
    let pa = partition_of("a", 4);
    let events = t.hub.events().read(pa, 0, 100).await.unwrap();
    let a: Vec<_> = events.iter().filter(|e| e.device_id == "a").collect();
    assert_eq!(
        a.iter().map(|e| e.body.as_slice()).collect::<Vec<_>>(),
        [&b"a0"[..], b"a1", b"a2", b"a3", b"a4"]
    );
    for w in events.windows(2) {
        assert_eq!(w[1].sequence_number, w[0].sequence_number + 1);
        assert!(w[1].offset > w[0].offset);
    }
    assert_eq!(events[0].sequence_number, 0);
    assert_eq!(events[0].offset, 0);
    let e = a[0];
    assert_eq!(e.via, "mqtt");
    assert_eq!(e.properties.message_id.as_deref(), Some("m-a0"));
    assert_eq!(
        e.properties.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(e.properties.application["k"].as_deref(), Some("v"));
    assert_eq!(e.properties.application["bare"], None);
    assert_eq!(e.enqueued_time, t.hub.now());
    let info = t.hub.events().partition(pa).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (
            info.begin_sequence_number,
            info.last_sequence_number,
            info.last_offset,
            info.is_empty
        ),
        (0, last.sequence_number, last.offset, false)
    );
}

#[tokio::test]
async fn a_modules_telemetry_names_the_module() {
    let t = TestHub::new().await;
    t.device("gw").await;
    t.hub
        .modules()
        .create(
            "gw",
            NewModule {
                module_id: "m".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    send(&t.hub, "gw/m", "x").await;
    let e = &t
        .hub
        .events()
        .read(partition_of("gw", 4), 0, 10)
        .await
        .unwrap()[0];
    assert_eq!(
        (e.device_id.as_str(), e.module_id.as_deref()),
        ("gw", Some("m"))
    );
}

#[tokio::test]
async fn positions_pick_where_a_reader_starts() {
    let t = TestHub::new().await;
    t.device("d").await;
    let p = partition_of("d", 4);
    for i in 0..4 {
        send(&t.hub, "d", &format!("{i}")).await;
        t.clock.advance(Duration::from_secs(10));
    }
    let all = t.hub.events().read(p, 0, 10).await.unwrap();
    let ev = t.hub.events();
    assert_eq!(ev.resolve(p, Position::Earliest).await.unwrap(), 0);
    assert_eq!(ev.resolve(p, Position::Latest).await.unwrap(), 4);
    let seq = |n, inclusive| Position::Sequence {
        sequence_number: n,
        inclusive,
    };
    assert_eq!(ev.resolve(p, seq(1, false)).await.unwrap(), 2);
    assert_eq!(ev.resolve(p, seq(1, true)).await.unwrap(), 1);
    let off = |o, inclusive| Position::Offset {
        offset: o,
        inclusive,
    };
    assert_eq!(ev.resolve(p, off(all[2].offset, false)).await.unwrap(), 3);
    assert_eq!(ev.resolve(p, off(all[2].offset, true)).await.unwrap(), 2);
    assert_eq!(
        ev.resolve(p, off(all[3].offset, false)).await.unwrap(),
        4,
        "none after: the end"
    );
    let at = |ts, inclusive| Position::Enqueued {
        time: ts,
        inclusive,
    };
    assert_eq!(
        ev.resolve(p, at(all[1].enqueued_time, false))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ev.resolve(p, at(all[1].enqueued_time, true)).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn numbers_keep_growing_across_a_restart_and_after_retention_empties_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_2030();
    let open = || {
        Hub::open(
            HubOptions::new(dir.path().join("hub.db"))
                .clock(clock.shared())
                .background_tasks(false),
        )
    };
    let hub = open().await.unwrap();
    hub.registry().create(NewDevice::named("d")).await.unwrap();
    let p = partition_of("d", 4);
    for i in 0..3 {
        send(&hub, "d", &format!("{i}")).await;
    }
    let before = hub.events().read(p, 0, 10).await.unwrap();
    hub.close().await.unwrap();
    drop(hub);

    let hub = open().await.unwrap();
    assert_eq!(
        hub.events().read(p, 0, 10).await.unwrap(),
        before,
        "same events, same numbers"
    );
    send(&hub, "d", "3").await;
    let fourth = hub.events().read(p, 3, 1).await.unwrap();
    assert_eq!(fourth[0].sequence_number, 3);
    assert!(fourth[0].offset > before[2].offset);

    // A day later everything has expired; numbering goes on.
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(hub.events().enforce_retention().await.unwrap(), 4);
    let info = hub.events().partition(p).await.unwrap();
    assert!(info.is_empty);
    assert_eq!(
        (info.begin_sequence_number, info.last_sequence_number),
        (4, 3)
    );
    // A reader still at an expired position gets the oldest event kept.
    send(&hub, "d", "4").await;
    let from = hub
        .events()
        .resolve(
            p,
            Position::Offset {
                offset: before[0].offset,
                inclusive: false,
            },
        )
        .await
        .unwrap();
    let got = hub.events().read(p, from, 10).await.unwrap();
    assert_eq!((got.len(), got[0].sequence_number), (1, 4));
    hub.close().await.unwrap();
}

#[tokio::test]
async fn retention_by_count_keeps_the_newest() {
    let t = TestHub::with_settings(HubSettings {
        event_max_per_partition: 3,
        ..HubSettings::default()
    })
    .await;
    t.device("d").await;
    for i in 0..7 {
        send(&t.hub, "d", &format!("{i}")).await;
    }
    assert_eq!(t.hub.events().enforce_retention().await.unwrap(), 4);
    let p = partition_of("d", 4);
    let kept: Vec<i64> = t
        .hub
        .events()
        .read(p, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence_number)
        .collect();
    assert_eq!(kept, [4, 5, 6]);
}

#[tokio::test]
async fn consumer_groups_and_partition_ids() {
    let t = TestHub::new().await;
    let ev = t.hub.events();
    assert_eq!(ev.partition_ids(), ["0", "1", "2", "3"]);
    assert_eq!(ev.name(), "localhost");
    assert!(ev.partition_id("4").is_err() && ev.partition_id("x").is_err());
    assert!(ev.has_consumer_group("$default").await.unwrap());
    ev.create_consumer_group("dashboards").await.unwrap();
    for bad in ["", "-x", "a b", "$Default", "dashboards", &"x".repeat(51)] {
        let e = ev.create_consumer_group(bad).await.unwrap_err();
        assert_eq!(e.code().number(), 400004, "{bad:?}");
    }
    let names: Vec<String> = ev
        .consumer_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["$Default", "dashboards"]);
    assert!(ev.delete_consumer_group("$Default").await.is_err());
    ev.delete_consumer_group("dashboards").await.unwrap();
    assert!(ev.delete_consumer_group("dashboards").await.is_err());
}

#[tokio::test]
async fn the_partition_count_is_fixed_once_events_exist() {
    let t = TestHub::new().await;
    let eight = HubSettings {
        event_partitions: 8,
        ..HubSettings::default()
    };
    t.hub.update_settings(eight.clone()).await.unwrap();
    assert_eq!(t.hub.events().partition_count(), 8);
    t.device("d").await;
    send(&t.hub, "d", "x").await;
    let back = HubSettings {
        event_partitions: 4,
        ..eight
    };
    let e = t.hub.update_settings(back).await.unwrap_err();
    assert_eq!(e.field(), Some("eventPartitions"));
}

mod order_per_partition {
    //! Random interleavings of devices' telemetry: each partition numbers
    //! its events 0, 1, 2, … and each device's events keep their order.
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn numbering_is_contiguous_and_each_devices_order_holds(sends in proptest::collection::vec(0usize..5, 1..60)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let t = TestHub::new().await;
                for d in 0..5 {
                    t.device(&format!("dev{d}")).await;
                }
                let mut stored = Vec::new();
                for (n, d) in sends.iter().enumerate() {
                    stored.push(t.hub.device_telemetry(&format!("dev{d}"), "test", telemetry(&n.to_string())).unwrap());
                }
                for s in stored {
                    s.committed().await.unwrap();
                }
                for p in 0..4 {
                    let events = t.hub.events().read(p, 0, 1000).await.unwrap();
                    for (i, e) in events.iter().enumerate() {
                        prop_assert_eq!(e.sequence_number, i as i64);
                        prop_assert_eq!(partition_of(&e.device_id, 4), p);
                    }
                    for d in 0..5 {
                        let mine: Vec<usize> = events.iter()
                            .filter(|e| e.device_id == format!("dev{d}"))
                            .map(|e| String::from_utf8_lossy(&e.body).parse().unwrap())
                            .collect();
                        prop_assert!(mine.windows(2).all(|w| w[0] < w[1]));
                    }
                }
                Ok(())
            })?;
        }
    }
}

#[tokio::test]
async fn readers_follow_event_hubs_epoch_rules() {
    use hublet_core::events::OwnerError;
    let t = TestHub::new().await;
    let ev = t.hub.events();
    let mut plain: Vec<_> = (0..5)
        .map(|_| ev.claim_reader("$Default", 0, None).unwrap())
        .collect();
    assert!(matches!(
        ev.claim_reader("$default", 0, None),
        Err(OwnerError::TooMany(_))
    ));
    // Another partition, another group: their own limits.
    let _other = ev.claim_reader("$Default", 1, None).unwrap();
    let _group = ev.claim_reader("dashboards", 0, None).unwrap();
    // An epoch reader takes the partition over from every plain one.
    let mut owner = ev.claim_reader("$Default", 0, Some(1)).unwrap();
    for r in &mut plain {
        assert!(matches!(r.stolen().await, OwnerError::Stolen(_)));
    }
    drop(plain);
    let e = ev.claim_reader("$Default", 0, None).unwrap_err();
    assert!(e.to_string().contains("epoch of '1'"), "{e}");
    let e = ev.claim_reader("$Default", 0, Some(0)).unwrap_err();
    assert!(e.to_string().contains("higher epoch '1'"), "{e}");
    // An equal or higher epoch takes over from the owner.
    let _next = ev.claim_reader("$Default", 0, Some(1)).unwrap();
    assert!(matches!(owner.stolen().await, OwnerError::Stolen(_)));
    drop(owner);
    drop(_next);
    // Once the epoch readers are gone, plain readers may come back.
    assert!(ev.claim_reader("$Default", 0, None).is_ok());
}
