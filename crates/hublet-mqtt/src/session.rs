//! One device's MQTT session as a plain state machine: subscriptions, the
//! C2D messages in flight, packet ids. No sockets and no hub here, so every
//! rule is tested directly; the connection task feeds it packets and carries
//! out what it returns.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use hublet_core::{C2dMessage, MethodFilter};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Publish, SubscribeReasonCode};
use serde::{Deserialize, Serialize};

use crate::topics::{Filter, Violation, c2d_topic, parse_filter};
use hublet_core::property_bag as bag;

/// IoT Hub allows at most five subscriptions per device.
pub const MAX_SUBSCRIPTIONS: usize = 5;

/// What is kept between connections when `clean_session = 0`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persisted {
    /// The subscriptions.
    pub subscriptions: Vec<Filter>,
}

/// A C2D PUBLISH waiting for its PUBACK.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    pkid: u16,
    sequence_number: i64,
    lock_token: String,
}

/// How subscriptions changed, for the hub.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// C2D: `Some(true)` subscribed, `Some(false)` unsubscribed.
    pub c2d: Option<bool>,
    /// Methods: the new method filter, if it changed.
    pub methods: Option<MethodFilter>,
    /// Desired-property patches: `Some(true)` subscribed, `Some(false)` unsubscribed.
    pub twin_desired: Option<bool>,
}

/// The session.
#[derive(Debug)]
pub struct Session {
    device: String,
    clean: bool,
    present: bool,
    subscriptions: BTreeSet<Filter>,
    inflight: VecDeque<InFlight>,
    next_pkid: u16,
}

impl Session {
    /// A session for `device`. With `clean = false`, `stored` is the
    /// session kept from earlier connections (if any).
    pub fn new(device: &str, clean: bool, stored: Option<Persisted>) -> Session {
        let stored = if clean { None } else { stored };
        Session {
            device: device.to_string(),
            clean,
            present: stored.is_some(),
            subscriptions: stored
                .map(|p| p.subscriptions.into_iter().collect())
                .unwrap_or_default(),
            inflight: VecDeque::new(),
            next_pkid: 1,
        }
    }

    /// CONNACK's session-present flag.
    pub fn session_present(&self) -> bool {
        self.present
    }

    /// Whether the session outlives the connection.
    pub fn is_persistent(&self) -> bool {
        !self.clean
    }

    /// Whether the device is subscribed to `f`.
    pub fn has(&self, f: &Filter) -> bool {
        self.subscriptions.contains(f)
    }

    /// Which methods the subscriptions let through.
    pub fn method_filter(&self) -> MethodFilter {
        if self.has(&Filter::Methods) {
            return MethodFilter::All;
        }
        let names: BTreeSet<String> = self
            .subscriptions
            .iter()
            .filter_map(|f| match f {
                Filter::Method(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            MethodFilter::None
        } else {
            MethodFilter::Only(names)
        }
    }

    /// The state to keep for the next connection.
    pub fn persisted(&self) -> Persisted {
        Persisted {
            subscriptions: self.subscriptions.iter().cloned().collect(),
        }
    }

    /// Applies a SUBSCRIBE. Every filter must be in the catalogue and the
    /// total must stay within [`MAX_SUBSCRIPTIONS`]; QoS 2 is granted as 1.
    pub fn subscribe(
        &mut self,
        filters: &[(String, QoS)],
    ) -> Result<(Vec<SubscribeReasonCode>, Changes), Violation> {
        let mut parsed = Vec::with_capacity(filters.len());
        for (topic, qos) in filters {
            parsed.push((parse_filter(&self.device, topic)?, *qos));
        }
        let mut after = self.subscriptions.clone();
        after.extend(parsed.iter().map(|(f, _)| f.clone()));
        if after.len() > MAX_SUBSCRIPTIONS {
            return Err(Violation::new(format!(
                "more than {MAX_SUBSCRIPTIONS} subscriptions (IoT Hub's limit)"
            )));
        }
        let before_methods = self.method_filter();
        let c2d = (!self.has(&Filter::C2d) && after.contains(&Filter::C2d)).then_some(true);
        let twin_desired = (!self.has(&Filter::TwinDesired)
            && after.contains(&Filter::TwinDesired))
        .then_some(true);
        self.subscriptions = after;
        let now_methods = self.method_filter();
        let changes = Changes {
            c2d,
            methods: (now_methods != before_methods).then_some(now_methods),
            twin_desired,
        };
        let codes = parsed
            .iter()
            .map(|(_, q)| {
                SubscribeReasonCode::Success(if *q == QoS::AtMostOnce {
                    QoS::AtMostOnce
                } else {
                    QoS::AtLeastOnce
                })
            })
            .collect();
        Ok((codes, changes))
    }

    /// Applies an UNSUBSCRIBE. Unknown filters are ignored, as MQTT says.
    pub fn unsubscribe(&mut self, topics: &[String]) -> Changes {
        let before_methods = self.method_filter();
        let mut changes = Changes::default();
        for t in topics {
            if let Ok(f) = parse_filter(&self.device, t)
                && self.subscriptions.remove(&f)
            {
                match f {
                    Filter::C2d => changes.c2d = Some(false),
                    Filter::TwinDesired => changes.twin_desired = Some(false),
                    _ => {}
                }
            }
        }
        let now_methods = self.method_filter();
        if now_methods != before_methods {
            changes.methods = Some(now_methods);
        }
        changes
    }

    /// Turns a locked C2D message into its QoS 1 PUBLISH. A message still
    /// in flight (its lock expired and it was locked again) is resent with
    /// the same packet id and DUP set; so is one that a persistent session
    /// delivered on an earlier connection.
    pub fn deliver(&mut self, m: &C2dMessage) -> Publish {
        let token = m.lock_token.clone().unwrap_or_default();
        let (pkid, dup) = match self
            .inflight
            .iter_mut()
            .find(|f| f.sequence_number == m.sequence_number)
        {
            Some(f) => {
                f.lock_token = token;
                (f.pkid, true)
            }
            None => {
                let pkid = self.next_free_pkid();
                self.inflight.push_back(InFlight {
                    pkid,
                    sequence_number: m.sequence_number,
                    lock_token: token,
                });
                (pkid, !self.clean && m.attempts > 1)
            }
        };
        let mut p = Publish::new(
            c2d_topic(&self.device, &property_bag(m)),
            QoS::AtLeastOnce,
            Bytes::new(),
        );
        p.payload = Bytes::from(m.body.clone());
        p.pkid = pkid;
        p.dup = dup;
        p
    }

    fn next_free_pkid(&mut self) -> u16 {
        loop {
            let id = self.next_pkid;
            self.next_pkid = if self.next_pkid == u16::MAX {
                1
            } else {
                self.next_pkid + 1
            };
            if !self.inflight.iter().any(|f| f.pkid == id) {
                return id;
            }
        }
    }

    /// A PUBACK from the device. IoT Hub requires PUBACKs in the order the
    /// PUBLISHes were sent; the packet id is the lock token. Returns the
    /// hub's lock token to complete, `Ok(None)` for an unknown packet id.
    pub fn puback(&mut self, pkid: u16) -> Result<Option<String>, Violation> {
        match self.inflight.front() {
            Some(f) if f.pkid == pkid => Ok(self.inflight.pop_front().map(|f| f.lock_token)),
            Some(f) if self.inflight.iter().any(|x| x.pkid == pkid) => {
                Err(Violation::new(format!(
                    "PUBACK out of order: expected packet id {} (the oldest unacknowledged message), got {pkid}",
                    f.pkid
                )))
            }
            _ => Ok(None),
        }
    }

    /// Messages sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }
}

/// The C2D property bag: `$.mid`, `$.to`, the optional system properties,
/// `$.exp`, `iothub-ack`, then application properties.
pub fn property_bag(m: &C2dMessage) -> String {
    let exp = expiry_text(m);
    let head = [("$.mid", m.message_id.as_str()), ("$.to", m.to.as_str())];
    bag::encode(bag::c2d_pairs(m, &head, Some(&exp)))
}

/// Expiry as IoT Hub writes it: seven fractional digits, e.g. `2020-07-25T14:14:25.1720000Z`.
fn expiry_text(m: &C2dMessage) -> String {
    let s = m.expiry_time_utc.to_rfc3339();
    match s.strip_suffix('Z') {
        Some(head) => format!("{head}0000Z"),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hublet_core::{AckMode, MessageState, Timestamp};

    use super::*;

    fn msg(seq: i64, token: &str) -> C2dMessage {
        C2dMessage {
            device_id: "d1".into(),
            sequence_number: seq,
            message_id: format!("m{seq}"),
            correlation_id: None,
            user_id: None,
            to: "/devices/d1/messages/devicebound".into(),
            expiry_time_utc: Timestamp(1_893_456_000_123),
            ack: AckMode::Full,
            content_type: Some("application/json".into()),
            content_encoding: None,
            properties: BTreeMap::from([("color".to_string(), "blue".to_string())]),
            body: b"{}".to_vec(),
            enqueued_time: Timestamp(0),
            state: MessageState::Invisible,
            lock_token: Some(token.into()),
            lock_expiry: None,
            delivery_count: 0,
            attempts: 1,
        }
    }

    #[test]
    fn the_bag_carries_every_property_the_sdk_reads() {
        let bag = property_bag(&msg(1, "t"));
        assert_eq!(
            bag,
            "%24.mid=m1&%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound&%24.ct=application%2Fjson&%24.exp=2030-01-01T00%3A00%3A00.1230000Z&iothub-ack=full&color=blue"
        );
    }

    #[test]
    fn pubacks_must_come_in_order() {
        let mut s = Session::new("d1", true, None);
        let a = s.deliver(&msg(1, "ta"));
        let b = s.deliver(&msg(2, "tb"));
        assert_eq!((a.pkid, b.pkid), (1, 2));
        assert!(
            s.puback(b.pkid).is_err(),
            "acking the second first breaks IoT Hub's rule"
        );
        assert_eq!(s.puback(a.pkid).unwrap().as_deref(), Some("ta"));
        assert_eq!(s.puback(b.pkid).unwrap().as_deref(), Some("tb"));
        assert_eq!(
            s.puback(99).unwrap(),
            None,
            "an unknown packet id is ignored"
        );
    }

    #[test]
    fn a_redelivery_in_the_same_session_reuses_the_packet_id_with_dup() {
        let mut s = Session::new("d1", true, None);
        let first = s.deliver(&msg(7, "old"));
        assert!(!first.dup);
        let mut again = msg(7, "new");
        again.attempts = 2;
        let resent = s.deliver(&again);
        assert_eq!(resent.pkid, first.pkid);
        assert!(resent.dup);
        assert_eq!(s.in_flight(), 1);
        assert_eq!(
            s.puback(first.pkid).unwrap().as_deref(),
            Some("new"),
            "the PUBACK completes the current lock"
        );
    }

    #[test]
    fn subscriptions_follow_the_catalogue_and_the_limit_of_five() {
        let mut s = Session::new("d1", false, None);
        assert!(!s.session_present());
        let (codes, ch) = s
            .subscribe(&[
                ("devices/d1/messages/devicebound/#".into(), QoS::ExactlyOnce),
                ("$iothub/methods/POST/#".into(), QoS::AtMostOnce),
            ])
            .unwrap();
        assert_eq!(
            codes,
            vec![
                SubscribeReasonCode::Success(QoS::AtLeastOnce),
                SubscribeReasonCode::Success(QoS::AtMostOnce)
            ]
        );
        assert_eq!((ch.c2d, ch.methods), (Some(true), Some(MethodFilter::All)));
        let (_, again) = s
            .subscribe(&[("$iothub/methods/POST/#".into(), QoS::AtLeastOnce)])
            .unwrap();
        assert_eq!(again, Changes::default(), "re-subscribing changes nothing");
        assert!(
            s.subscribe(&[("devices/d2/messages/devicebound/#".into(), QoS::AtLeastOnce)])
                .is_err()
        );
        let stored = s.persisted();
        let resumed = Session::new("d1", false, Some(stored.clone()));
        assert!(resumed.session_present());
        assert!(resumed.has(&Filter::C2d) && resumed.has(&Filter::Methods));
        let fresh = Session::new("d1", true, Some(stored));
        assert!(
            !fresh.session_present() && !fresh.has(&Filter::C2d),
            "clean session discards state"
        );
        let ch = s.unsubscribe(&[
            "devices/d1/messages/devicebound/#".into(),
            "nonsense".into(),
        ]);
        assert_eq!(ch.c2d, Some(false));
    }

    #[test]
    fn single_method_subscriptions_count_toward_the_limit_of_five() {
        let mut s = Session::new("d1", true, None);
        let names = ["a", "b", "c", "d"];
        let filters: Vec<(String, QoS)> = names
            .iter()
            .map(|n| (format!("$iothub/methods/POST/{n}/#"), QoS::AtLeastOnce))
            .collect();
        let (_, ch) = s.subscribe(&filters).unwrap();
        assert!(matches!(ch.methods, Some(MethodFilter::Only(ref n)) if n.len() == 4));
        s.subscribe(&[("devices/d1/messages/devicebound/#".into(), QoS::AtLeastOnce)])
            .unwrap();
        let sixth = s.subscribe(&[("$iothub/twin/res/#".into(), QoS::AtLeastOnce)]);
        assert!(sixth.unwrap_err().0.contains("more than 5"));
        let ch = s.unsubscribe(&["$iothub/methods/POST/a/#".into()]);
        assert!(matches!(ch.methods, Some(MethodFilter::Only(ref n)) if n.len() == 3));
    }

    #[test]
    fn packet_ids_skip_ones_in_flight_and_wrap() {
        let mut s = Session::new("d1", true, None);
        s.next_pkid = u16::MAX;
        let a = s.deliver(&msg(1, "a"));
        let b = s.deliver(&msg(2, "b"));
        assert_eq!((a.pkid, b.pkid), (u16::MAX, 1));
    }
}
