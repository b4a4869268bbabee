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
                let special: &[u8] = &[0, 0xff, b'%', b'&', b'=', b'/', b'#', b'+', b'"', b'{', b'['];
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
