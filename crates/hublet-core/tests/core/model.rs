//! Property test of the mailbox against a small reference model.
//!
//! Random interleavings of send / receive / complete / abandon / reject /
//! purge / clock advance across several devices are applied to both a real
//! hub (virtual time) and a model written straight from the semantics
//! reference. After every step the queues must agree, and at the end the
//! feedback records must be exactly the ones the model expects: one per
//! terminal outcome its ack mode asks for.

use std::collections::BTreeMap;
use std::time::Duration;

use hublet_core::{AckMode, HubSettings, MessageState, NewMessage, Timestamp, TraceQuery};
use proptest::prelude::*;

use crate::support::TestHub;

const DEVICES: usize = 3;
const CAP: u32 = 4;
const MAX_DELIVERIES: u32 = 3;
const LOCK_SECS: u64 = 10;

#[derive(Debug, Clone)]
enum Op {
    Send { dev: usize, ack: AckMode, ttl: u64 },
    Receive { dev: usize },
    Complete { dev: usize, pick: usize },
    Abandon { dev: usize, pick: usize },
    Reject { dev: usize, pick: usize },
    Purge { dev: usize },
    Advance { secs: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let dev = 0..DEVICES;
    let ack = prop_oneof![
        Just(AckMode::None),
        Just(AckMode::Positive),
        Just(AckMode::Negative),
        Just(AckMode::Full)
    ];
    prop_oneof![
        4 => (dev.clone(), ack, prop_oneof![Just(5u64), Just(15), Just(40), Just(120)]).prop_map(|(dev, ack, ttl)| Op::Send { dev, ack, ttl }),
        4 => dev.clone().prop_map(|dev| Op::Receive { dev }),
        2 => (dev.clone(), 0..4usize).prop_map(|(dev, pick)| Op::Complete { dev, pick }),
        2 => (dev.clone(), 0..4usize).prop_map(|(dev, pick)| Op::Abandon { dev, pick }),
        1 => (dev.clone(), 0..4usize).prop_map(|(dev, pick)| Op::Reject { dev, pick }),
        1 => dev.prop_map(|dev| Op::Purge { dev }),
        2 => prop_oneof![Just(1u64), Just(5), Just(9), Just(10), Just(30)].prop_map(|secs| Op::Advance { secs }),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct ModelMsg {
    id: String,
    ack: AckMode,
    expiry: i64,
    locked: Option<(String, i64)>,
    delivery_count: u32,
}

#[derive(Default)]
struct Model {
    now: i64,
    queues: Vec<Vec<ModelMsg>>,
    /// Every lock token ever handed out per device, so settle ops can pick stale ones too.
    tokens: Vec<Vec<String>>,
    feedback: Vec<(String, &'static str)>,
}

impl Model {
    fn outcome(&mut self, m: &ModelMsg, status: &'static str) {
        if m.ack.wants(status == "Success") {
            self.feedback.push((m.id.clone(), status));
        }
    }

    fn expire_enqueued(&mut self, dev: usize) {
        let now = self.now;
        let (gone, keep): (Vec<_>, Vec<_>) = self.queues[dev]
            .drain(..)
            .partition(|m| m.locked.is_none() && m.expiry <= now);
        self.queues[dev] = keep;
        for m in gone {
            self.outcome(&m, "Expired");
        }
    }

    fn release_locks(&mut self, dev: usize) {
        let now = self.now;
        let mut dead = Vec::new();
        self.queues[dev].retain_mut(|m| match &m.locked {
            Some((_, until)) if *until <= now => {
                if m.expiry <= now {
                    dead.push(m.clone());
                    false
                } else {
                    m.locked = None;
                    true
                }
            }
            _ => true,
        });
        for m in dead {
            self.outcome(&m, "Expired");
        }
    }

    fn sweep(&mut self) {
        for d in 0..DEVICES {
            self.release_locks(d);
        }
        for d in 0..DEVICES {
            self.expire_enqueued(d);
        }
    }

    /// Index of the message locked under `token` with a live lock.
    fn held(&self, dev: usize, token: &str) -> Option<usize> {
        self.queues[dev]
            .iter()
            .position(|m| matches!(&m.locked, Some((t, until)) if t == token && *until > self.now))
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let t = TestHub::with_settings(HubSettings {
            queue_cap: CAP,
            max_delivery_count: MAX_DELIVERIES,
            lock_timeout_secs: LOCK_SECS,
            ..HubSettings::default()
        })
        .await;
        for d in 0..DEVICES {
            t.device(&format!("d{d}")).await;
        }
        let mut model = Model {
            now: t.hub.now().0,
            queues: vec![Vec::new(); DEVICES],
            tokens: vec![Vec::new(); DEVICES],
            ..Model::default()
        };
        let mb = t.hub.mailbox();
        let mut next_id = 0;
        for op in ops {
            match op {
                Op::Send { dev, ack, ttl } => {
                    next_id += 1;
                    let id = format!("m{next_id}");
                    let m = NewMessage {
                        message_id: Some(id.clone()),
                        ack,
                        ttl_secs: Some(ttl),
                        ..NewMessage::text("x")
                    };
                    let r = mb.send(&format!("d{dev}"), m).await;
                    model.expire_enqueued(dev);
                    if model.queues[dev].len() as u32 >= CAP {
                        prop_assert_eq!(r.map(drop).unwrap_err().code().number(), 403004);
                    } else {
                        r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        model.queues[dev].push(ModelMsg {
                            id,
                            ack,
                            expiry: model.now + ttl as i64 * 1000,
                            locked: None,
                            delivery_count: 0,
                        });
                    }
                }
                Op::Receive { dev } => {
                    let got = mb
                        .receive(&format!("d{dev}"))
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    model.release_locks(dev);
                    model.expire_enqueued(dev);
                    let now = model.now;
                    let want = model.queues[dev].iter_mut().find(|m| m.locked.is_none());
                    match (got, want) {
                        (None, None) => {}
                        (Some(g), Some(w)) => {
                            prop_assert_eq!(&g.message_id, &w.id, "FIFO among Enqueued");
                            prop_assert!(
                                g.expiry_time_utc > Timestamp(now),
                                "an expired message was delivered"
                            );
                            prop_assert_eq!(g.delivery_count, w.delivery_count);
                            let token = g.lock_token.clone().unwrap();
                            w.locked = Some((token.clone(), now + LOCK_SECS as i64 * 1000));
                            model.tokens[dev].push(token);
                        }
                        (g, w) => prop_assert!(
                            false,
                            "receive: hub gave {:?}, model expected {:?}",
                            g.map(|m| m.message_id),
                            w.map(|m| m.id.clone())
                        ),
                    }
                }
                Op::Complete { dev, pick }
                | Op::Abandon { dev, pick }
                | Op::Reject { dev, pick } => {
                    let Some(token) = model.tokens[dev].iter().rev().nth(pick).cloned() else {
                        continue;
                    };
                    let device = format!("d{dev}");
                    let r = match op {
                        Op::Complete { .. } => mb.complete(&device, &token).await,
                        Op::Abandon { .. } => mb.abandon(&device, &token).await.map(drop),
                        _ => mb.reject(&device, &token).await,
                    };
                    match model.held(dev, &token) {
                        None => prop_assert_eq!(
                            r.unwrap_err().code().number(),
                            412002,
                            "stale or unknown lock must be refused"
                        ),
                        Some(i) => {
                            r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                            let mut m = model.queues[dev].remove(i);
                            match op {
                                Op::Complete { .. } => model.outcome(&m, "Success"),
                                Op::Reject { .. } => model.outcome(&m, "Rejected"),
                                _ => {
                                    m.delivery_count += 1;
                                    if m.expiry <= model.now {
                                        model.outcome(&m, "Expired");
                                    } else if m.delivery_count >= MAX_DELIVERIES {
                                        model.outcome(&m, "DeliveryCountExceeded");
                                    } else {
                                        m.locked = None;
                                        model.queues[dev].insert(i, m);
                                    }
                                }
                            }
                        }
                    }
                }
                Op::Purge { dev } => {
                    let n = mb
                        .purge(&format!("d{dev}"))
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(n as usize, model.queues[dev].len());
                    for m in std::mem::take(&mut model.queues[dev]) {
                        model.outcome(&m, "Purged");
                    }
                }
                Op::Advance { secs } => {
                    t.advance(Duration::from_secs(secs)).await;
                    model.now += secs as i64 * 1000;
                    model.sweep();
                }
            }
            for d in 0..DEVICES {
                let hub_q = mb
                    .list(&format!("d{d}"))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let hub_view: Vec<(String, bool, u32)> = hub_q
                    .iter()
                    .map(|m| {
                        (
                            m.message_id.clone(),
                            m.state == MessageState::Invisible,
                            m.delivery_count,
                        )
                    })
                    .collect();
                let model_view: Vec<(String, bool, u32)> = model.queues[d]
                    .iter()
                    .map(|m| (m.id.clone(), m.locked.is_some(), m.delivery_count))
                    .collect();
                prop_assert_eq!(hub_view, model_view, "queue of d{} after {:?}", d, op);
                prop_assert!(hub_q.len() as u32 <= CAP);
            }
        }
        let produced = t
            .hub
            .trace()
            .query(TraceQuery {
                kinds: vec!["feedback.produced".into()],
                limit: Some(100_000),
                ..Default::default()
            })
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut hub_fb: BTreeMap<(String, String), usize> = BTreeMap::new();
        for e in produced {
            *hub_fb
                .entry((
                    e.message_id.unwrap(),
                    e.detail.detail_value()["statusCode"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ))
                .or_default() += 1;
        }
        let mut model_fb: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (id, s) in &model.feedback {
            *model_fb.entry((id.clone(), s.to_string())).or_default() += 1;
        }
        prop_assert_eq!(
            hub_fb,
            model_fb,
            "feedback exactly once per outcome, as the ack mode asks"
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_mailbox_matches_its_reference_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
