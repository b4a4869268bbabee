//! Every saved corpus input (`tests/fuzz/corpus/<target>/`), then random
//! mutations of them, through every target: the short fuzz run CI does on
//! each commit. The long, coverage-guided runs are `tests/fuzz/run.sh`
//! (see docs/reliability.md).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use rand::{Rng, SeedableRng};

/// Mutations per target per run; the seed is printed so a failure replays.
const MUTATIONS: usize = 3_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fuzz/corpus")
        .join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| std::fs::read(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    inputs.push(Vec::new());
    inputs
}

fn mutate(rng: &mut impl Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.random_range(1..8) {
        match rng.random_range(0..6) {
            0 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] = rng.random();
            }
            2 => {
                let i = rng.random_range(0..=v.len());
                v.insert(i, rng.random());
            }
            3 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                let n = rng.random_range(1..=(v.len() - i).min(16));
                v.drain(i..i + n);
            }
            4 if !others.is_empty() => {
                let o = &others[rng.random_range(0..others.len())];
                if !o.is_empty() {
                    let a = rng.random_range(0..o.len());
                    let b = rng.random_range(a..=o.len());
                    let i = rng.random_range(0..=v.len());
                    v.splice(i..i, o[a..b].iter().copied());
                }
            }
            _ => {
                let special: &[u8] = &[
                    0, 0xff, b'%', b'&', b'=', b'/', b'#', b'+', b'"', b'{', b'[',
                ];
                let i = rng.random_range(0..=v.len());
                v.insert(i, special[rng.random_range(0..special.len())]);
            }
        }
    }
    v
}

#[test]
fn every_target_survives_its_corpus_and_mutations_of_it() {
    let seed: u64 = std::env::var("HUBLET_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("HUBLET_FUZZ_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for (name, target) in hublet_fuzz::TARGETS {
        let inputs = corpus(name);
        assert!(inputs.len() > 1, "{name} has no saved corpus");
        for input in &inputs {
            target(input);
        }
        let mutations = if *name == "mqtt_session" || *name == "rest_body" {
            MUTATIONS / 3
        } else {
            MUTATIONS
        };
        for _ in 0..mutations {
            let base = &inputs[rng.random_range(0..inputs.len())];
            let input = mutate(&mut rng, base, &inputs);
            target(&input);
        }
    }
}

/// The process's peak resident memory so far, in kB (Linux).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A 131-byte SASL frame whose symbol claims 3.2 GB made serde_amqp size a
/// buffer to the claim before reading (3.1 GB resident, before any
/// authentication). With the patched reader (vendor/serde_amqp/PATCHED.md)
/// the connection ends without the hub's memory growing anywhere near it.
#[test]
fn a_frame_claiming_gigabytes_does_not_get_them() {
    let input = corpus("amqp_session")
        .into_iter()
        .find(|i| i.len() == 131 && i.starts_with(b"AMQP\x03"))
        .expect("the saved input sasl-frame-claiming-a-3gb-symbol");
    let before = peak_rss_kb();
    hublet_fuzz::amqp_session(&input);
    let grown_mb = peak_rss_kb().saturating_sub(before) / 1024;
    assert!(
        grown_mb < 512,
        "peak memory grew by {grown_mb} MB for a 131-byte frame"
    );
}

/// A list of arrays of nulls: ten bytes per array, each claiming 65,536
/// nulls, made serde_amqp build 13 million values from 2 KB (hundreds of
/// millions from one 64 KB frame). The patched decoder refuses a
/// zero-width array that claims more than its header
/// (vendor/serde_amqp/PATCHED.md).
#[test]
fn arrays_of_nulls_claiming_more_than_they_hold_are_refused() {
    let array: [u8; 10] = [0xf0, 0x00, 0x01, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x40];
    let n: u32 = 200;
    let mut bytes = vec![0xd0];
    bytes.extend((4 + n * 10).to_be_bytes());
    bytes.extend(n.to_be_bytes());
    for _ in 0..n {
        bytes.extend(array);
    }
    let before = peak_rss_kb();
    let decoded = serde_amqp::from_slice::<serde_amqp::Value>(&bytes);
    let grown_mb = peak_rss_kb().saturating_sub(before) / 1024;
    assert!(
        decoded.is_err(),
        "2 KB must not decode into 13 million values"
    );
    assert!(grown_mb < 128, "decoding grew memory by {grown_mb} MB");
    // An honest array of nulls still decodes.
    let honest = [0xe0, 0x02, 0x01, 0x40];
    assert!(serde_amqp::from_slice::<serde_amqp::Value>(&honest).is_ok());
}

/// The saved MQTT inputs reach past CONNECT: the hub stored what they sent.
#[test]
fn the_mqtt_corpus_reaches_the_engine() {
    for input in corpus("mqtt_session") {
        hublet_fuzz::mqtt_session(&input);
    }
    let hub = hublet_fuzz::hub();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kinds: Vec<String> = rt.block_on(async {
        hub.trace().flush().await.unwrap();
        hub.trace()
            .query(hublet_core::TraceQuery {
                device_id: Some("d1".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.detail.kind_str().to_string())
            .collect()
    });
    for k in ["device.attached", "telemetry.received", "device.detached"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in {kinds:?}");
    }
}

/// Writes the AMQP seed corpus: what fe2o3-amqp's client sends to the real
/// endpoint for a connection without SASL, with SASL PLAIN, and one that
/// attaches links and sends a message. Run by hand when the protocol code
/// changes: `cargo test -p hublet-fuzz --test replay -- --ignored record_amqp_seeds`.
#[test]
#[ignore]
fn record_amqp_seeds() {
    use fe2o3_amqp::types::messaging::{Message, Properties};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/corpus/amqp_session");
    std::fs::create_dir_all(&dir).unwrap();
    let hub = hublet_fuzz::hub().clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (name, sasl, links) in [
        ("open", false, false),
        ("sasl_plain", true, false),
        ("links", false, true),
    ] {
        let hub = hub.clone();
        let bytes = rt.block_on(async move {
            // client <-> proxy (records what the client sends) <-> hub
            let (client, proxy_client_side) = tokio::io::duplex(1 << 20);
            let (proxy_hub_side, hub_side) = tokio::io::duplex(1 << 20);
            let cancel = tokio_util::sync::CancellationToken::new();
            tokio::spawn(hublet_amqp::connection::serve(
                hub,
                hub_side,
                "seed".into(),
                "amqp",
                cancel,
                None,
            ));
            let (mut from_client, mut to_client) = tokio::io::split(proxy_client_side);
            let (mut from_hub, mut to_hub) = tokio::io::split(proxy_hub_side);
            let recorded = tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = from_client.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if to_hub.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                seen
            });
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_hub, &mut to_client).await;
            });
            let mut b = fe2o3_amqp::Connection::builder()
                .container_id("seed")
                .hostname("localhost");
            if sasl {
                b = b.sasl_profile(fe2o3_amqp::sasl_profile::SaslProfile::Plain {
                    username: "iothubowner@sas.root.localhost".into(),
                    password: "SharedAccessSignature sr=localhost&sig=AAAA&se=1&skn=iothubowner"
                        .into(),
                });
            }
            let work = async {
                let mut conn = b.open_with_stream(client).await.ok()?;
                if links {
                    let mut s = fe2o3_amqp::Session::begin(&mut conn).await.ok()?;
                    if let Ok(mut tx) =
                        fe2o3_amqp::Sender::attach(&mut s, "s", "/messages/devicebound").await
                    {
                        let m = Message::builder()
                            .properties(Properties {
                                to: Some("/devices/d1/messages/devicebound".into()),
                                ..Default::default()
                            })
                            .value("hello")
                            .build();
                        let _ = tx.send(m).await;
                    }
                    let _ = fe2o3_amqp::Receiver::attach(
                        &mut s,
                        "r",
                        "/messages/serviceBound/feedback",
                    )
                    .await;
                    let _ = s.end().await;
                }
                let _ = conn.close().await;
                Some(())
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), work).await;
            tokio::time::timeout(std::time::Duration::from_secs(5), recorded)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        });
        assert!(bytes.len() >= 8, "{name}: nothing recorded");
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
#[ignore]
fn amqp_memory_probe() {
    let seeds = corpus("amqp_session");
    let rss = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap()
            .to_string()
    };
    for round in 0..10 {
        for _ in 0..100 {
            for s in &seeds {
                hublet_fuzz::amqp_session(s);
            }
        }
        println!("round {round}: {}", rss());
    }
}
