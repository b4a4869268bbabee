//! Durability: a child process sends (and settles) messages, writes twins
//! (desired by a back end, reported by a device and by a module) and is
//! killed with SIGKILL at a random point, twenty times over. Every send
//! that returned success must be found afterwards, in a state it could
//! legally be in, and no acknowledged twin write may be lost.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hublet_core::{AckMode, EventKind, Hub, HubOptions, NewDevice, NewMessage};
use rand::Rng;

const CHILD_ENV: &str = "HUBLET_CRASH_DB";
const DEVICES: usize = 4;

/// The child's work loop; does nothing unless started by the parent test.
#[test]
fn child_process() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: String = std::env::var("HUBLET_CRASH_ROUND").unwrap_or_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let hub = Hub::open(HubOptions::new(&db).background_tasks(false))
            .await
            .unwrap();
        for d in 0..DEVICES {
            match hub
                .registry()
                .create(NewDevice::named(format!("d{d}")))
                .await
            {
                Ok(_) => {}
                Err(e) if e.code().number() == 409001 => {}
                Err(e) => panic!("{e}"),
            }
        }
        match hub
            .modules()
            .create(
                "d2",
                hublet_core::NewModule {
                    module_id: "m".into(),
                    ..Default::default()
                },
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.code().number() == 409301 => {}
            Err(e) => panic!("{e}"),
        }
        println!("READY");
        let mut tasks = Vec::new();
        // Twin writes, each value larger than any before it (across rounds
        // too), printed once the write returned.
        let base: u64 = round.parse::<u64>().unwrap_or(0) * 1_000_000;
        {
            let hub = hub.clone();
            tasks.push(tokio::spawn(async move {
                for k in 1u64.. {
                    let v = base + k;
                    let w = hublet_core::twin::TwinWrite {
                        desired: serde_json::from_value(serde_json::json!({"n": v})).ok(),
                        ..Default::default()
                    };
                    let op = hublet_core::twin::TwinOp::Patch;
                    if hub.twins().write("d0", op, w, None).await.is_ok() {
                        println!("TWIN desired {v}");
                    }
                    let patch = serde_json::json!({"n": v});
                    if hub
                        .twins()
                        .report("d1", patch.clone(), "test")
                        .await
                        .is_ok()
                    {
                        println!("TWIN reported {v}");
                    }
                    if hub.twins().report("d2/m", patch, "test").await.is_ok() {
                        println!("TWIN module {v}");
                    }
                }
            }));
        }
        for task in 0..8 {
            let hub = hub.clone();
            let round = round.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let device = format!("d{}", (n + task) % DEVICES);
                    let id = format!("r{round}-t{task}-{n}");
                    let m = NewMessage {
                        message_id: Some(id.clone()),
                        ack: AckMode::Full,
                        ..NewMessage::text("payload")
                    };
                    match hub.mailbox().send(&device, m).await {
                        Ok(_) => println!("SENT {device} {id}"),
                        Err(e) if e.code().number() == 403004 => {
                            // Queue full: settle the oldest message in one of three ways.
                            if let Ok(Some(got)) = hub.mailbox().receive(&device).await {
                                let token = got.lock_token.clone().unwrap();
                                let r = match n % 3 {
                                    0 => hub.mailbox().complete(&device, &token).await,
                                    1 => hub.mailbox().reject(&device, &token).await,
                                    _ => hub.mailbox().abandon(&device, &token).await.map(drop),
                                };
                                if r.is_ok() {
                                    println!("SETTLED {} {}", n % 3, got.message_id);
                                }
                            }
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

#[test]
fn every_accepted_message_survives_sigkill_at_random_points() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut sent: HashMap<String, String> = HashMap::new();
    let mut settled: HashMap<String, u32> = HashMap::new();
    let mut twin_acked: HashMap<String, u64> = HashMap::new();

    for round in 0..20 {
        let mut child = Command::new(&exe)
            .args([
                "crash::child_process",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &db)
            .env("HUBLET_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let kill_after = rng.random_range(1..400usize);
        let mut lines = Vec::new();
        let start = Instant::now();
        while lines
            .iter()
            .filter(|l: &&String| l.starts_with("SENT"))
            .count()
            < kill_after
            && start.elapsed() < Duration::from_secs(20)
        {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                lines.push(l);
            }
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        assert!(
            lines.iter().any(|l| l.ends_with("READY")),
            "round {round}: the child never started"
        );
        for l in lines {
            let parts: Vec<&str> = l.split(' ').collect();
            match parts.as_slice() {
                ["SENT", device, id] => {
                    sent.insert(id.to_string(), device.to_string());
                }
                ["SETTLED", how, id] => {
                    settled.insert(id.to_string(), how.parse().unwrap());
                }
                ["TWIN", part, v] => {
                    let v: u64 = v.parse().unwrap();
                    let best = twin_acked.entry(part.to_string()).or_default();
                    *best = (*best).max(v);
                }
                _ => {}
            }
        }
    }
    assert!(
        sent.len() > 100,
        "the child should have sent plenty ({})",
        sent.len()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let hub = Hub::open(HubOptions::new(&db).background_tasks(false))
            .await
            .unwrap();
        // Each twin holds at least the last value whose write returned.
        for (part, id, section) in [
            ("desired", "d0", "desired"),
            ("reported", "d1", "reported"),
            ("module", "d2/m", "reported"),
        ] {
            let Some(&acked) = twin_acked.get(part) else {
                continue;
            };
            let twin = hub.twins().get(id).await.unwrap().to_json();
            let stored = twin["properties"][section]["n"].as_u64().unwrap_or(0);
            assert!(
                stored >= acked,
                "{part} twin of {id}: {acked} was acknowledged but {stored} is stored"
            );
        }
        assert!(
            twin_acked.len() == 3,
            "the child should have written every twin: {twin_acked:?}"
        );
        let mut queued = HashSet::new();
        for d in 0..DEVICES {
            for m in hub.mailbox().list(&format!("d{d}")).await.unwrap() {
                queued.insert(m.message_id);
            }
        }
        for (id, device) in &sent {
            let story = hub.trace().story(id).await.unwrap();
            let kinds: Vec<EventKind> = story
                .iter()
                .map(|e| e.kind().expect("a known kind"))
                .collect();
            assert_eq!(
                kinds.first(),
                Some(&EventKind::C2dEnqueued),
                "{id}: accepted but its enqueue is not on disk"
            );
            assert!(
                story
                    .iter()
                    .all(|e| e.device_id.as_deref() == Some(device.as_str()))
            );
            let terminal = kinds
                .iter()
                .any(|k| matches!(k, EventKind::C2dCompleted | EventKind::C2dDeadLettered));
            assert!(
                queued.contains(id) ^ terminal,
                "{id}: must be either still queued or settled, not {kinds:?}"
            );
            match settled.get(id) {
                Some(0) => assert!(
                    kinds.contains(&EventKind::C2dCompleted),
                    "{id}: completion was acknowledged but lost"
                ),
                Some(1) => assert!(
                    kinds.contains(&EventKind::C2dRejected),
                    "{id}: rejection was acknowledged but lost"
                ),
                Some(_) => assert!(
                    kinds.contains(&EventKind::C2dAbandoned),
                    "{id}: abandon was acknowledged but lost"
                ),
                None => {}
            }
            let outcomes = kinds
                .iter()
                .filter(|k| matches!(k, EventKind::C2dCompleted | EventKind::C2dDeadLettered))
                .count();
            let feedback = kinds
                .iter()
                .filter(|k| **k == EventKind::FeedbackProduced)
                .count();
            assert_eq!(
                feedback, outcomes,
                "{id}: ack=full gives exactly one feedback record per outcome"
            );
        }
    });
}
