//! The Event Hub-compatible endpoint through a plain AMQP client: a reader
//! on a partition gets device telemetry with Event Hubs' and IoT Hub's
//! annotations from the position its selector names, and bad groups,
//! partitions and filters are refused with Event Hubs' conditions.

use std::time::Duration;

use fe2o3_amqp::link::Receiver;
use fe2o3_amqp::types::messaging::{Body, Source};
use fe2o3_amqp::types::primitives::{OrderedMap, Symbol, Value};
use hublet_core::attach::Telemetry;
use hublet_core::events::partition_of;

use crate::support::{Bench, Client};

async fn send(b: &Bench, device: &str, bodies: &[&str]) {
    for body in bodies {
        b.hub
            .device_telemetry(
                device,
                "test",
                Telemetry {
                    message_id: Some(format!("m-{body}")),
                    body: body.as_bytes().to_vec(),
                    ..Telemetry::default()
                },
            )
            .unwrap()
            .committed()
            .await
            .unwrap();
    }
}

async fn reader(c: &mut Client, address: &str, selector: Option<&str>) -> Result<Receiver, String> {
    let mut source = Source::builder().address(address.to_string());
    if let Some(s) = selector {
        let mut filter = OrderedMap::new();
        filter.insert(
            Symbol::from("apache.org:selector-filter:string"),
            Value::String(s.to_string()),
        );
        source = source.filter(filter);
    }
    let r = Receiver::builder()
        .name("eh-reader")
        .source(source.build())
        .attach(&mut c.session)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(r)
}

fn annotation(d: &fe2o3_amqp::link::delivery::Delivery<Body<Value>>, key: &str) -> Option<Value> {
    d.message().message_annotations.as_ref().and_then(|a| {
        a.0.get(&fe2o3_amqp::types::messaging::annotations::OwnedKey::Symbol(Symbol::from(key)))
            .cloned()
    })
}

#[tokio::test]
async fn a_partition_reader_gets_telemetry_from_its_position_with_the_annotations() {
    let b = Bench::new().await;
    send(&b, "d1", &["a", "b", "c"]).await;
    let p = partition_of("d1", 4);
    let mut c = b.authorized().await;
    let address = format!("localhost/ConsumerGroups/$Default/Partitions/{p}");
    let mut r = reader(
        &mut c,
        &address,
        Some("amqp.annotation.x-opt-sequence-number > '0'"),
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(10), r.recv::<Body<Value>>())
            .await
            .unwrap()
            .unwrap();
        got.push(d);
    }
    let seqs: Vec<Option<Value>> = got
        .iter()
        .map(|d| annotation(d, "x-opt-sequence-number"))
        .collect();
    assert_eq!(seqs, [Some(Value::Long(1)), Some(Value::Long(2))]);
    let d = &got[0];
    assert!(matches!(
        annotation(d, "x-opt-offset"),
        Some(Value::String(_))
    ));
    assert!(matches!(
        annotation(d, "x-opt-enqueued-time"),
        Some(Value::Timestamp(_))
    ));
    assert_eq!(
        annotation(d, "iothub-connection-device-id"),
        Some(Value::String("d1".into()))
    );
    assert_eq!(
        annotation(d, "iothub-message-source"),
        Some(Value::String("Telemetry".into()))
    );
    match &d.message().body {
        Body::Data(data) => assert_eq!(
            data.iter().next().map(|x| x.0.to_vec()),
            Some(b"b".to_vec())
        ),
        other => panic!("expected a data body, got {other:?}"),
    }
    // Live: a new event reaches the attached reader.
    send(&b, "d1", &["d"]).await;
    let d = tokio::time::timeout(Duration::from_secs(10), r.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        annotation(&d, "x-opt-sequence-number"),
        Some(Value::Long(3))
    );
}

#[tokio::test]
async fn unknown_groups_partitions_and_filters_are_refused_as_event_hubs_does() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    for (address, selector, want) in [
        (
            "localhost/ConsumerGroups/nobody/Partitions/0",
            None,
            "NotFound",
        ),
        (
            "localhost/ConsumerGroups/$Default/Partitions/9",
            None,
            "argument-out-of-range",
        ),
        (
            "localhost/ConsumerGroups/$Default/Partitions/0",
            Some("amqp.annotation.x-opt-partition-key > 'a'"),
            "NotAllowed",
        ),
    ] {
        let err = match reader(&mut c, address, selector).await {
            Err(e) => e,
            Ok(mut r) => {
                let e = tokio::time::timeout(Duration::from_secs(5), r.recv::<Body<Value>>())
                    .await
                    .unwrap();
                format!("{:?}", e.err())
            }
        };
        assert!(err.contains(want), "{address}: {err}");
    }
}

#[tokio::test]
async fn a_reader_with_an_epoch_takes_the_partition_over() {
    let b = Bench::new().await;
    let mut c = b.authorized().await;
    let address = "localhost/ConsumerGroups/$Default/Partitions/0";
    let mut plain = reader(&mut c, address, None).await.unwrap();
    let mut props = fe2o3_amqp::types::definitions::Fields::new();
    props.insert(Symbol::from("com.microsoft:epoch"), Value::Long(3));
    let _owner = Receiver::builder()
        .name("eh-owner")
        .source(Source::builder().address(address.to_string()).build())
        .properties(props)
        .attach(&mut c.session)
        .await
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), plain.recv::<Body<Value>>())
        .await
        .unwrap()
        .err();
    let e = format!("{e:?}");
    assert!(
        e.contains("Stolen") && e.contains("higher epoch of '3'"),
        "{e}"
    );
    // While it owns the partition, a plain reader is refused.
    let err = match reader(&mut c, address, None).await {
        Err(e) => e,
        Ok(mut r) => format!(
            "{:?}",
            tokio::time::timeout(Duration::from_secs(5), r.recv::<Body<Value>>())
                .await
                .unwrap()
                .err()
        ),
    };
    assert!(
        err.contains("Stolen") && err.contains("non-epoch receiver is not allowed"),
        "{err}"
    );
}

/// A reader that grants only the `credit` it is given (none: it never asks).
async fn manual_reader(c: &mut Client, name: &str, address: &str, credit: u32) -> Receiver {
    let mut r = Receiver::builder()
        .name(name)
        .source(Source::builder().address(address.to_string()).build())
        .credit_mode(fe2o3_amqp::link::receiver::CreditMode::Manual)
        .attach(&mut c.session)
        .await
        .unwrap();
    if credit > 0 {
        r.set_credit(credit).await.unwrap();
    }
    r
}

/// The error a reader's link ended with (at attach, or at its first receive).
async fn link_error(r: Result<Receiver, String>) -> String {
    match r {
        Err(e) => e,
        Ok(mut r) => format!(
            "{:?}",
            tokio::time::timeout(Duration::from_secs(5), r.recv::<Body<Value>>())
                .await
                .unwrap()
                .err()
        ),
    }
}

#[tokio::test]
async fn iot_hubs_own_events_address_redirects_to_the_event_hub() {
    let b = Bench::new().await;
    let eh = b.hub.events().name();
    let want = format!("amqps://localhost:{}/{eh}/$management", b.addr.port());
    let mut c = b.authorized().await;
    for address in [
        "amqps://localhost/messages/events/$management",
        "/messages/events/ConsumerGroups/$Default/Partitions/0",
    ] {
        let e = link_error(reader(&mut c, address, None).await).await;
        assert!(e.contains("Redirect"), "{address}: {e}");
        assert!(e.contains("hostname") && e.contains("network-host"), "{e}");
        if address.ends_with("$management") {
            assert!(e.contains(&want), "{e}");
        } else {
            assert!(
                e.contains(&format!("/{eh}/ConsumerGroups/$Default/Partitions/0")),
                "{e}"
            );
        }
    }
    // Without a token the address is not revealed.
    let mut anonymous = b.connect().await;
    let e = link_error(reader(&mut anonymous, "/messages/events/$management", None).await).await;
    assert!(
        e.contains("UnauthorizedAccess") && !e.contains("Redirect"),
        "{e}"
    );
}

#[tokio::test]
async fn a_reader_that_never_grants_credit_holds_up_nobody_and_loses_nothing() {
    let b = Bench::new().await;
    let p = partition_of("d1", 4);
    let address = format!("localhost/ConsumerGroups/$Default/Partitions/{p}");
    let mut c = b.authorized().await;
    let mut stalled = manual_reader(&mut c, "stalled", &address, 0).await;
    let mut other = b.authorized().await;
    // (fe2o3's client renews credit only as it settles, and events come
    // settled, so this reader grants enough for all of them at once.)
    let mut live = manual_reader(&mut other, "live", &address, 600).await;
    let bodies: Vec<String> = (0..600).map(|i| format!("e{i}")).collect();
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    send(&b, "d1", &refs).await;
    for i in 0..600i64 {
        let d = tokio::time::timeout(Duration::from_secs(10), live.recv::<Body<Value>>())
            .await
            .unwrap_or_else(|_| panic!("event {i} did not arrive"))
            .unwrap();
        assert_eq!(
            annotation(&d, "x-opt-sequence-number"),
            Some(Value::Long(i))
        );
    }
    // The stalled reader still gets its events, in order, once it asks.
    stalled.set_credit(3).await.unwrap();
    for i in 0..3i64 {
        let d = tokio::time::timeout(Duration::from_secs(10), stalled.recv::<Body<Value>>())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            annotation(&d, "x-opt-sequence-number"),
            Some(Value::Long(i))
        );
    }
}

#[tokio::test]
async fn a_thousand_idle_readers_leave_the_endpoint_serving() {
    let b = Bench::new().await;
    // Event Hubs allows five plain readers per partition and group: 50
    // groups of 4 partitions hold 1,000.
    for g in 0..50 {
        b.hub
            .events()
            .create_consumer_group(&format!("g{g}"))
            .await
            .unwrap();
    }
    let mut clients = Vec::new();
    let mut readers = Vec::new();
    let mut n = 0;
    'open: for _ in 0..17 {
        let mut c = b.authorized().await;
        for _ in 0..60 {
            if n == 1000 {
                clients.push(c);
                break 'open;
            }
            let (g, p) = (n / 20, n % 4);
            let r = Receiver::builder()
                .name(format!("idle-{n}"))
                .source(
                    Source::builder()
                        .address(format!("localhost/ConsumerGroups/g{g}/Partitions/{p}"))
                        .build(),
                )
                .attach(&mut c.session)
                .await
                .unwrap();
            readers.push(r);
            n += 1;
        }
        clients.push(c);
    }
    assert_eq!(readers.len(), 1000);
    // A new reader still attaches and gets what a device sends now, and so
    // does an idle one on the same partition.
    let p = partition_of("d2", 4);
    let mut c = b.authorized().await;
    let mut fresh = reader(
        &mut c,
        &format!("localhost/ConsumerGroups/$Default/Partitions/{p}"),
        None,
    )
    .await
    .unwrap();
    send(&b, "d2", &["after"]).await;
    let d = tokio::time::timeout(Duration::from_secs(10), fresh.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        annotation(&d, "iothub-connection-device-id"),
        Some(Value::String("d2".into()))
    );
    let idle = &mut readers[p as usize];
    let d = tokio::time::timeout(Duration::from_secs(10), idle.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        annotation(&d, "iothub-connection-device-id"),
        Some(Value::String("d2".into()))
    );
}
