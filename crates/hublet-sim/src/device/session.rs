//! One connected period of a simulated device: MQTT connection, C2D,
//! methods, telemetry, HTTP polling, planned disconnects and link drops.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use hublet_core::Timestamp;
use hublet_core::auth::sas;
use hublet_core::trace::detail::SimActionKind;
use rand::Rng;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS, TlsConfiguration, Transport};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Device, SessionEnd, http, update};
use crate::profile::{C2dAction, draw_delay};
use crate::template::{self, Context};

/// How long a simulated device's SAS token lives; it reconnects after the hub closes it.
const TOKEN_TTL_SECS: i64 = 3600;

/// A C2D delivery waiting for its PUBACK, in arrival order.
struct Held {
    publish: rumqttc::Publish,
    state: HeldState,
}

#[derive(PartialEq)]
enum HeldState {
    Ready,
    Waiting,
    Withheld,
}

/// Work scheduled for later on the hub's clock.
enum Due {
    Reply {
        topic: String,
        payload: Vec<u8>,
    },
    C2dReady {
        pkid: u16,
    },
    HttpSettle {
        etag: String,
        message_id: String,
        action: C2dAction,
    },
}

struct Schedule {
    items: BTreeMap<(i64, u64), Due>,
    seq: u64,
}

impl Schedule {
    fn add(&mut self, at: Timestamp, d: Due) {
        self.seq += 1;
        self.items.insert((at.0, self.seq), d);
    }
    fn next(&self) -> Option<Timestamp> {
        self.items.keys().next().map(|(t, _)| Timestamp(*t))
    }
    fn take_due(&mut self, now: Timestamp) -> Vec<Due> {
        let later = self.items.split_off(&(now.0 + 1, 0));
        std::mem::replace(&mut self.items, later)
            .into_values()
            .collect()
    }
}

fn earliest(xs: &[Option<Timestamp>]) -> Option<Timestamp> {
    xs.iter().flatten().min().copied()
}

fn message_id_of(topic: &str) -> String {
    let bag = topic.rsplit('/').next().unwrap_or_default();
    hublet_core::property_bag::decode(bag)
        .into_iter()
        .find(|(k, _)| k == "$.mid")
        .and_then(|(_, v)| v)
        .unwrap_or_default()
}

pub(crate) async fn run(d: &mut Device) -> SessionEnd {
    let hub = d.hub.clone();
    let clock = hub.clock().clone();
    let key = match hub.registry().get(&d.id).await {
        Ok(dev) => dev.primary_key,
        Err(e) => return SessionEnd::Failed(e.to_string()),
    };
    let host_name = hub.settings().hub_name.clone();
    let token = match sas::create(
        &format!("{host_name}/devices/{}", d.id),
        &key,
        None,
        clock.now().unix_seconds() + TOKEN_TTL_SECS,
    ) {
        Ok(t) => t,
        Err(e) => return SessionEnd::Failed(e.to_string()),
    };
    let (host, port) = match &d.target.tls {
        Some(_) => ("localhost".to_string(), d.target.mqtt.port()),
        None => (d.target.mqtt.ip().to_string(), d.target.mqtt.port()),
    };
    let mut opts = MqttOptions::new(d.id.clone(), host, port);
    opts.set_credentials(
        format!("{host_name}/{}/?api-version=2021-04-12", d.id),
        token.clone(),
    );
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(60));
    opts.set_manual_acks(true);
    if let Some(cfg) = &d.target.tls {
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            cfg.clone(),
        )));
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    let (tx, mut events) = mpsc::unbounded_channel();
    let poller = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(ev) => {
                    if tx.send(Ok(ev)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    let end = connected(d, &client, &mut events, &token).await;
    match end {
        SessionEnd::Planned | SessionEnd::Cancelled | SessionEnd::Faulted => {
            let _ = client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(Ok(_)) = events.recv().await {}
            })
            .await;
            poller.abort();
        }
        _ => poller.abort(),
    }
    end
}

async fn connected(
    d: &mut Device,
    client: &AsyncClient,
    events: &mut mpsc::UnboundedReceiver<Result<Event, String>>,
    token: &str,
) -> SessionEnd {
    let clock = d.hub.clock().clone();
    let profile = d.profile.clone();
    let c2d = profile.c2d.clone();
    let conn = profile.connectivity.clone();
    let c2d_mqtt = !c2d.ignore && !c2d.uses_http();
    let c2d_http = !c2d.ignore && c2d.uses_http() && d.target.http.is_some();
    let http = d.http.clone();
    let c2d_topic = format!("devices/{}/messages/devicebound", d.id);
    let mut is_connected = false;
    let mut held: VecDeque<Held> = VecDeque::new();
    let mut schedule = Schedule {
        items: BTreeMap::new(),
        seq: 0,
    };
    let mut telemetry_at: Option<Timestamp> = None;
    let mut offline_at: Option<Timestamp> = None;
    let mut drop_at: Option<Timestamp> = None;
    let mut poll_at: Option<Timestamp> = None;
    let mut report_at: Option<Timestamp> = None;
    let at_start = *d.faults.borrow_and_update();
    let drops_seen = at_start.drops;
    // A `disconnect` injected while this session was being set up.
    if at_start.is_offline(clock.now()) {
        return SessionEnd::Faulted;
    }
    let report_every = profile
        .twin
        .as_ref()
        .filter(|t| t.periodic.is_object() && t.report_every_secs > 0.0)
        .map(|t| Duration::from_secs_f64(t.report_every_secs));
    loop {
        let next = earliest(&[
            telemetry_at,
            offline_at,
            drop_at,
            poll_at,
            report_at,
            schedule.next(),
        ]);
        let wake = async {
            match next {
                Some(t) => clock.sleep_until(t).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = d.cancel.cancelled() => return SessionEnd::Cancelled,
            _ = d.faults.changed() => {
                let f = *d.faults.borrow_and_update();
                if f.drops != drops_seen {
                    update(&d.status, |s| s.drops += 1);
                    return SessionEnd::Dropped("link dropped by an injected fault".into());
                }
                if f.is_offline(clock.now()) {
                    return SessionEnd::Faulted;
                }
            }
            ev = events.recv() => match ev {
                None => return SessionEnd::Dropped("event loop ended".into()),
                Some(Err(e)) if is_connected => return SessionEnd::Dropped(e),
                Some(Err(e)) => return SessionEnd::Failed(e),
                Some(Ok(Event::Incoming(Incoming::ConnAck(_)))) => {
                    is_connected = true;
                    d.set_state("online");
                    let now = clock.now();
                    if c2d_mqtt {
                        let _ = client.try_subscribe(format!("{c2d_topic}/#"), QoS::AtLeastOnce);
                    }
                    if !profile.methods.is_empty() {
                        let _ = client.try_subscribe("$iothub/methods/POST/#", QoS::AtLeastOnce);
                    }
                    if profile.twin.is_some() {
                        let _ = client.try_subscribe("$iothub/twin/res/#", QoS::AtMostOnce);
                        let _ = client.try_subscribe("$iothub/twin/PATCH/properties/desired/#", QoS::AtMostOnce);
                        report_at_connect(d, client);
                        report_at = report_every.map(|every| now.plus(every));
                    }
                    if let Some(t) = &profile.telemetry {
                        telemetry_at = Some(now.plus(Duration::from_secs_f64(t.interval_secs)));
                    }
                    if conn.offline_every_secs > 0.0 {
                        offline_at = Some(now.plus(Duration::from_secs_f64(conn.offline_every_secs - conn.offline_for_secs)));
                    }
                    if conn.drop_probability > 0.0 {
                        drop_at = Some(now.plus(Duration::from_secs(1)));
                    }
                    if c2d_http {
                        poll_at = Some(now);
                    }
                }
                Some(Ok(Event::Incoming(Incoming::Publish(p)))) => {
                    if p.topic.starts_with("$iothub/methods/POST/") {
                        method(d, &p, &mut schedule);
                    } else if p.topic.starts_with("$iothub/twin/PATCH/properties/desired/") {
                        desired_patch(d, &p, &mut schedule);
                    } else if p.topic.starts_with(&c2d_topic) {
                        c2d_arrived(d, p, &mut held, &mut schedule);
                        flush(d, client, &mut held);
                    }
                }
                Some(Ok(_)) => {}
            },
            _ = wake => {
                let now = clock.now();
                if offline_at.is_some_and(|t| t <= now) {
                    return SessionEnd::Planned;
                }
                if drop_at.is_some_and(|t| t <= now) {
                    if d.rng.random::<f64>() < conn.drop_probability {
                        update(&d.status, |s| s.drops += 1);
                        d.action(SimActionKind::LinkDropped {
                            probability: conn.drop_probability,
                        });
                        return SessionEnd::Dropped("simulated link drop".into());
                    }
                    drop_at = Some(now.plus(Duration::from_secs(1)));
                }
                if telemetry_at.is_some_and(|t| t <= now) {
                    send_telemetry(d, client);
                    if let Some(t) = &profile.telemetry {
                        telemetry_at = Some(now.plus(Duration::from_secs_f64(t.interval_secs)));
                    }
                }
                if report_at.is_some_and(|t| t <= now) {
                    report_periodic(d, client);
                    report_at = report_every.map(|every| now.plus(every));
                }
                if poll_at.is_some_and(|t| t <= now) {
                    poll_at = Some(now.plus(Duration::from_secs_f64(c2d.poll_secs)));
                    if let Some(base) = d.target.http.clone()
                        && let Some((etag, mid)) = http::receive(&http, &base, &d.id, token).await
                    {
                        update(&d.status, |s| s.c2d_received += 1);
                        let take = d.rng.random::<f64>() < c2d.probability;
                        let action = if take { c2d.action } else { C2dAction::Complete };
                        let delay = draw_delay(c2d.delay_secs, c2d.delay_min_secs, c2d.delay_max_secs, &mut d.rng);
                        schedule.add(now.plus(delay), Due::HttpSettle { etag, message_id: mid, action });
                        // Look again at once: the queue may hold more.
                        poll_at = Some(now);
                    }
                }
                for due in schedule.take_due(now) {
                    match due {
                        Due::Reply { topic, payload } => {
                            let _ = client.try_publish(topic, QoS::AtLeastOnce, false, payload);
                        }
                        Due::C2dReady { pkid } => {
                            if let Some(h) = held.iter_mut().find(|h| h.publish.pkid == pkid && h.state == HeldState::Waiting) {
                                h.state = HeldState::Ready;
                            }
                            flush(d, client, &mut held);
                        }
                        Due::HttpSettle { etag, message_id, action } => {
                            if let Some(base) = d.target.http.clone() {
                                settle_http(d, &http, &base, token, &etag, &message_id, action).await;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Decides what to do with a C2D delivery (or a redelivery of one held).
fn c2d_arrived(
    d: &mut Device,
    p: rumqttc::Publish,
    held: &mut VecDeque<Held>,
    schedule: &mut Schedule,
) {
    let c2d = d.profile.c2d.clone();
    update(&d.status, |s| s.c2d_received += 1);
    let message_id = message_id_of(&p.topic);
    let pkid = p.pkid;
    let unresponsive = d.faults.borrow().is_unresponsive(d.hub.now());
    let withhold = unresponsive
        || (c2d.action == C2dAction::Withhold && d.rng.random::<f64>() < c2d.probability);
    let delay = draw_delay(
        c2d.delay_secs,
        c2d.delay_min_secs,
        c2d.delay_max_secs,
        &mut d.rng,
    );
    let state = if withhold {
        update(&d.status, |s| s.c2d_withheld += 1);
        d.action(SimActionKind::WithholdAck {
            message_id: message_id.clone(),
            redelivery: p.dup,
        });
        HeldState::Withheld
    } else if delay.is_zero() {
        HeldState::Ready
    } else {
        schedule.add(d.hub.now().plus(delay), Due::C2dReady { pkid });
        HeldState::Waiting
    };
    match held.iter_mut().find(|h| h.publish.pkid == pkid) {
        Some(h) => {
            h.publish = p;
            h.state = state;
        }
        None => held.push_back(Held { publish: p, state }),
    }
}

/// Acknowledges ready messages in arrival order (IoT Hub requires PUBACKs in order).
fn flush(d: &Device, client: &AsyncClient, held: &mut VecDeque<Held>) {
    while held.front().is_some_and(|h| h.state == HeldState::Ready) {
        if let Some(h) = held.pop_front() {
            let _ = client.try_ack(&h.publish);
            update(&d.status, |s| s.c2d_completed += 1);
        }
    }
}

async fn settle_http(
    d: &Device,
    http: &reqwest::Client,
    base: &str,
    token: &str,
    etag: &str,
    message_id: &str,
    action: C2dAction,
) {
    let ok = http::settle(http, base, &d.id, token, etag, action).await;
    match (action, ok) {
        (C2dAction::Reject, true) => {
            update(&d.status, |s| s.c2d_rejected += 1);
            d.action(SimActionKind::Reject {
                message_id: message_id.to_string(),
            });
        }
        (C2dAction::Abandon, true) => {
            update(&d.status, |s| s.c2d_abandoned += 1);
            d.action(SimActionKind::Abandon {
                message_id: message_id.to_string(),
            });
        }
        (_, true) => update(&d.status, |s| s.c2d_completed += 1),
        (_, false) => d.action(SimActionKind::SettleFailed {
            message_id: message_id.to_string(),
            action: format!("{action:?}"),
        }),
    }
}

/// Plans the reply to a method request.
fn method(d: &mut Device, p: &rumqttc::Publish, schedule: &mut Schedule) {
    let name = p.topic.split('/').nth(3).unwrap_or_default().to_string();
    let rid = p
        .topic
        .rsplit("$rid=")
        .next()
        .map(|r| r.split('&').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let request: Value = if p.payload.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&p.payload).unwrap_or(Value::Null)
    };
    let count = {
        let c = d.method_counts.entry(name.clone()).or_insert(0);
        *c += 1;
        *c
    };
    if d.faults.borrow().is_unresponsive(d.hub.now()) {
        update(&d.status, |s| s.methods_ignored += 1);
        d.action(SimActionKind::IgnoreMethod {
            method: name,
            request_id: rid,
        });
        return;
    }
    let Some(b) = d.profile.method(&name).cloned() else {
        let body = json!({"error": format!("no method '{name}' on this simulated device")});
        schedule.add(
            d.hub.now(),
            Due::Reply {
                topic: format!("$iothub/methods/res/404/?$rid={rid}"),
                payload: body.to_string().into_bytes(),
            },
        );
        update(&d.status, |s| s.methods_answered += 1);
        return;
    };
    if !b.reply {
        update(&d.status, |s| s.methods_ignored += 1);
        d.action(SimActionKind::IgnoreMethod {
            method: name,
            request_id: rid,
        });
        return;
    }
    let replayed =
        (!b.replies.is_empty()).then(|| b.replies[(count as usize - 1) % b.replies.len()].clone());
    let delay = match &replayed {
        Some(r) => Duration::from_secs_f64(r.delay_secs.max(0.0)),
        None => draw_delay(b.delay_secs, b.delay_min_secs, b.delay_max_secs, &mut d.rng),
    };
    let failing = b.fail_after.is_some_and(|n| count > n);
    let now_ms = d.hub.now().0;
    let uptime = d.uptime();
    let mut ctx = Context {
        device: &d.id,
        count,
        method: Some(&name),
        request: Some(&request),
        now_ms,
        uptime_s: uptime,
        rng: &mut d.rng,
    };
    let (status, payload) = if failing {
        (b.fail_status, template::render(&b.fail_payload, &mut ctx))
    } else if let Some(r) = &replayed {
        (r.status, template::render(&r.payload, &mut ctx))
    } else if b.echo {
        (b.status, request.clone())
    } else {
        (b.status, template::render(&b.payload, &mut ctx))
    };
    if failing {
        d.action(SimActionKind::FailMethod {
            method: name.clone(),
            request_id: rid.clone(),
            after_calls: b.fail_after,
        });
    }
    update(&d.status, |s| s.methods_answered += 1);
    schedule.add(
        d.hub.now().plus(delay),
        Due::Reply {
            topic: format!("$iothub/methods/res/{status}/?$rid={rid}"),
            payload: payload.to_string().into_bytes(),
        },
    );
}

/// The reported-properties topic with a fresh request id.
fn reported_topic(d: &mut Device) -> String {
    d.twin_requests += 1;
    format!(
        "$iothub/twin/PATCH/properties/reported/?$rid=sim-{}",
        d.twin_requests
    )
}

/// Reports the profile's `twin.reported` properties, as firmware does at boot.
fn report_at_connect(d: &mut Device, client: &AsyncClient) {
    let Some(t) = d.profile.twin.clone() else {
        return;
    };
    report_template(d, client, &t.reported);
}

/// Reports the profile's `twin.periodic` properties (every `report_every_secs`).
fn report_periodic(d: &mut Device, client: &AsyncClient) {
    let Some(t) = d.profile.twin.clone() else {
        return;
    };
    report_template(d, client, &t.periodic);
}

/// Renders a template of reported properties and sends it as a patch.
fn report_template(d: &mut Device, client: &AsyncClient, template: &Value) {
    if template.is_null() {
        return;
    }
    let now_ms = d.hub.now().0;
    let uptime = d.uptime();
    let mut ctx = Context {
        device: &d.id,
        count: 0,
        method: None,
        request: None,
        now_ms,
        uptime_s: uptime,
        rng: &mut d.rng,
    };
    let body = template::render(template, &mut ctx);
    // What it reports is what it holds (a declining device keeps it).
    if let Value::Object(m) = &body {
        for (k, v) in m {
            d.twin_kept.insert(k.clone(), v.clone());
        }
    }
    let topic = reported_topic(d);
    let _ = client.try_publish(topic, QoS::AtMostOnce, false, body.to_string().into_bytes());
}

/// Answers a desired-properties patch as the profile says: acknowledged
/// the IoT Plug and Play way, echoed, or ignored.
fn desired_patch(d: &mut Device, p: &rumqttc::Publish, schedule: &mut Schedule) {
    let Some(t) = d.profile.twin.clone() else {
        return;
    };
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&p.payload) else {
        return;
    };
    let version = patch.get("$version").cloned().unwrap_or(Value::Null);
    let mut reply = serde_json::Map::new();
    for (k, v) in patch.iter().filter(|(k, _)| !k.starts_with('$')) {
        let answer = match t.desired {
            crate::profile::DesiredAnswer::Ignore => return,
            crate::profile::DesiredAnswer::Echo => v.clone(),
            crate::profile::DesiredAnswer::Acknowledge => {
                json!({"value": v, "ac": 200, "av": version, "ad": "completed"})
            }
            // It keeps what it had (its reported value, if any) and says so.
            crate::profile::DesiredAnswer::Decline => match d.twin_kept.get(k) {
                Some(kept) => json!({"value": kept, "ac": 400, "av": version, "ad": "declined"}),
                None => json!({"ac": 400, "av": version, "ad": "declined"}),
            },
        };
        if t.desired != crate::profile::DesiredAnswer::Decline {
            d.twin_kept.insert(k.clone(), v.clone());
        }
        reply.insert(k.clone(), answer);
    }
    if reply.is_empty() {
        return;
    }
    let delay = draw_delay(0.0, t.delay_min_secs, t.delay_max_secs, &mut d.rng);
    let topic = reported_topic(d);
    schedule.add(
        d.hub.now().plus(delay),
        Due::Reply {
            topic,
            payload: Value::Object(reply).to_string().into_bytes(),
        },
    );
}

fn send_telemetry(d: &mut Device, client: &AsyncClient) {
    let Some(t) = d.profile.telemetry.clone() else {
        return;
    };
    d.telemetry_count += 1;
    let now_ms = d.hub.now().0;
    let uptime = d.uptime();
    let mut ctx = Context {
        device: &d.id,
        count: d.telemetry_count,
        method: None,
        request: None,
        now_ms,
        uptime_s: uptime,
        rng: &mut d.rng,
    };
    let body = template::render(&t.template, &mut ctx);
    let mut props: Vec<(String, String)> = vec![
        ("$.ct".into(), "application/json".into()),
        ("$.ce".into(), "utf-8".into()),
    ];
    for (k, v) in &t.properties {
        let rendered = match template::render(&Value::String(v.clone()), &mut ctx) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        props.push((k.clone(), rendered));
    }
    let bag = hublet_core::property_bag::encode(
        props.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))),
    );
    let topic = format!("devices/{}/messages/events/{bag}", d.id);
    if client
        .try_publish(
            topic,
            QoS::AtLeastOnce,
            false,
            body.to_string().into_bytes(),
        )
        .is_ok()
    {
        update(&d.status, |s| s.telemetry_sent += 1);
    }
}
