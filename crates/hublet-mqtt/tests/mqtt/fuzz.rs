//! Robustness: random and mutated bytes thrown at a live gateway. The server
//! must never panic, must close only the offending connection, and must keep
//! serving a healthy device throughout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use hublet_core::MethodCall;
use proptest::prelude::*;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Connect, Login, Packet, Publish, Subscribe};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::Bench;

/// Valid packets to start mutating from.
fn seeds(token: &str) -> Vec<Vec<u8>> {
    let mut c = Connect::new("victim");
    c.login = Some(Login::new("localhost/victim/", token));
    let mut p = Publish::new(
        "devices/victim/messages/events/a=b",
        QoS::AtLeastOnce,
        b"{}".to_vec(),
    );
    p.pkid = 4;
    let mut s = Subscribe::new("$iothub/methods/POST/#", QoS::AtLeastOnce);
    s.pkid = 5;
    [
        Packet::Connect(c),
        Packet::Publish(p),
        Packet::Subscribe(s),
        Packet::PingReq,
    ]
    .into_iter()
    .map(|pkt| {
        let mut buf = BytesMut::new();
        pkt.write(&mut buf, 1 << 20).unwrap();
        buf.to_vec()
    })
    .collect()
}

#[derive(Debug, Clone)]
enum Attack {
    Garbage(Vec<u8>),
    Mutated {
        seed: usize,
        flips: Vec<(usize, u8)>,
        cut: Option<usize>,
    },
    HugeLength,
    BadUtf8Topic,
    ValidConnectThenGarbage(Vec<u8>),
}

fn attack() -> impl Strategy<Value = Attack> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Attack::Garbage),
        (
            0..4usize,
            proptest::collection::vec((0..200usize, any::<u8>()), 0..6),
            proptest::option::of(0..200usize)
        )
            .prop_map(|(seed, flips, cut)| Attack::Mutated { seed, flips, cut }),
        Just(Attack::HugeLength),
        Just(Attack::BadUtf8Topic),
        proptest::collection::vec(any::<u8>(), 1..200).prop_map(Attack::ValidConnectThenGarbage),
    ]
}

fn bytes_for(a: &Attack, seeds: &[Vec<u8>]) -> Vec<u8> {
    match a {
        Attack::Garbage(g) => g.clone(),
        Attack::Mutated { seed, flips, cut } => {
            let mut b = seeds[*seed].clone();
            for (i, v) in flips {
                if !b.is_empty() {
                    let n = b.len();
                    b[i % n] = *v;
                }
            }
            if let Some(c) = cut {
                b.truncate(*c % (b.len() + 1));
            }
            b
        }
        // PUBLISH claiming 268 MB of remaining length.
        Attack::HugeLength => vec![0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, b'a'],
        // PUBLISH whose topic is not UTF-8.
        Attack::BadUtf8Topic => vec![0x30, 6, 0, 2, 0xc3, 0x28, b'h', b'i'],
        Attack::ValidConnectThenGarbage(g) => {
            let mut b = seeds[0].clone();
            b.extend_from_slice(g);
            b
        }
    }
}

#[test]
fn hostile_bytes_never_take_down_the_gateway_or_other_devices() {
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = Arc::new(rt.block_on(async {
        let b = Bench::new().await;
        b.device("healthy").await;
        b.device("victim").await;
        b
    }));
    let (healthy, token) = rt.block_on(async {
        let mut h = b.connected("healthy", false, true).await;
        h.subscribe(&["$iothub/methods/POST/#"]).await;
        (h, b.token("victim", 3600).await)
    });
    let seeds = seeds(&token);
    let healthy = Arc::new(tokio::sync::Mutex::new(healthy));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&attack(), |a| {
            let bytes = bytes_for(&a, &seeds);
            let b = b.clone();
            rt.block_on(async move {
                let mut s = TcpStream::connect(b.gw.tcp_addr().unwrap()).await.unwrap();
                let _ = s.write_all(&bytes).await;
                let _ = s.shutdown().await;
                // Drain until the server closes (or a short wait passes).
                let mut sink = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_millis(200), async {
                    while let Ok(n) = s.read(&mut sink).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await;
            });
            Ok(())
        })
        .unwrap();
    rt.block_on(async {
        // The healthy device still answers a method.
        let hub = b.hub.clone();
        let call = tokio::spawn(async move {
            hub.methods()
                .invoke("healthy", MethodCall::new("ping", json!(1)))
                .await
        });
        let mut h = healthy.lock().await;
        let req = h.next_publish().await;
        let rid = req.topic.rsplit("$rid=").next().unwrap().to_string();
        h.publish(
            &format!("$iothub/methods/res/200/?$rid={rid}"),
            QoS::AtMostOnce,
            b"{}",
        )
        .await;
        assert_eq!(call.await.unwrap().unwrap().status, 200);
        // And new devices can still connect.
        let _again = b.connected("victim", false, true).await;
    });
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the gateway panicked");
}
