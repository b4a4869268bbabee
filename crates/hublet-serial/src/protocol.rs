//! The bench line protocol (full description: `docs/serial-protocol.md`).
//!
//! Everything is lines. A line that starts with `@@ ` is a frame; any other
//! line is console output. Frames are made of space-separated fields; the
//! last field of some frames is "the rest of the line".
//!
//! Hub → board:
//! ```text
//! @@ C2D <lock> <message-id> <properties> <body>
//! @@ METHOD <request-id> <method-name> <json payload>
//! @@ WHO                              asks the board to say HELLO
//! @@ TWIN <request-id> <status> [<json>]   answers TWINGET / REPORT
//! @@ DESIRED <version> <json patch>        a desired-properties change
//! ```
//! Board → hub:
//! ```text
//! @@ DONE <lock>                     complete
//! @@ ABANDON <lock>
//! @@ REJECT <lock>
//! @@ RESULT <request-id> <status> [<json payload>]
//! @@ TELEMETRY <properties> <body>
//! @@ HELLO [<device-id> [<firmware version>]]
//! @@ TWINGET <request-id>            read the twin
//! @@ REPORT <request-id> <json>      patch reported properties
//! ```
//! A board counts as connected from its first frame on; until then its
//! port is open but its device is not (see `bridge`).
//! `<properties>` is `-` or an IoT Hub property bag (`k=v&k2=v2`,
//! percent-encoded). `<body>` is the rest of the line with `%`, CR, LF and
//! other control or non-ASCII bytes written as `%XX`, so text stays readable.

use hublet_core::C2dMessage;
use hublet_core::property_bag;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, percent_encode};

/// The frame prefix.
pub const PREFIX: &str = "@@ ";

/// A frame from the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardFrame {
    /// Complete a C2D message.
    Done(String),
    /// Abandon a C2D message.
    Abandon(String),
    /// Reject a C2D message.
    Reject(String),
    /// Answer a method call.
    Result {
        /// The request id.
        request_id: String,
        /// The status.
        status: i32,
        /// The JSON payload as sent (empty for none).
        payload: String,
    },
    /// Device-to-cloud message.
    Telemetry {
        /// Properties (`$.ct`, `$.ce`, `$.mid`, `$.cid` and application ones).
        properties: Vec<(String, Option<String>)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Read the twin (answered with `TWIN <rid> 200 {"desired":…,"reported":…}`).
    TwinGet(String),
    /// Patch reported properties (answered with `TWIN <rid> 204 {"$version":n}`).
    Report {
        /// The board's request id, echoed in the answer.
        request_id: String,
        /// The JSON patch as sent.
        patch: String,
    },
    /// The board introduces itself.
    Hello {
        /// The device id it believes it is, if it says.
        device_id: Option<String>,
        /// Its firmware version, if given.
        firmware: Option<String>,
    },
}

/// What a received line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Console output.
    Console,
    /// A frame.
    Frame(BoardFrame),
    /// Looked like a frame but did not parse; shown as console output with this warning.
    Malformed(String),
}

/// Classifies one line (without its line ending).
pub fn parse(line: &[u8]) -> Line {
    let Some(rest) = line.strip_prefix(PREFIX.as_bytes()) else {
        return Line::Console;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return Line::Malformed("frame is not valid UTF-8".into());
    };
    match parse_frame(rest.trim_end()) {
        Ok(f) => Line::Frame(f),
        Err(e) => Line::Malformed(e),
    }
}

fn parse_frame(s: &str) -> Result<BoardFrame, String> {
    let (verb, args) = s.split_once(' ').unwrap_or((s, ""));
    let args = args.trim_start();
    let one = |what: &str| -> Result<String, String> {
        let a = args.trim();
        if a.is_empty() || a.contains(' ') {
            return Err(format!("{verb} takes exactly one field: {what}"));
        }
        Ok(a.to_string())
    };
    match verb {
        "DONE" => Ok(BoardFrame::Done(one("the lock token")?)),
        "ABANDON" => Ok(BoardFrame::Abandon(one("the lock token")?)),
        "REJECT" => Ok(BoardFrame::Reject(one("the lock token")?)),
        "RESULT" => {
            let mut it = args.splitn(3, ' ');
            let rid = it
                .next()
                .filter(|r| !r.is_empty())
                .ok_or("RESULT needs a request id")?;
            let status = it
                .next()
                .ok_or("RESULT needs a status")?
                .parse::<i32>()
                .map_err(|_| "RESULT's status is not an integer".to_string())?;
            Ok(BoardFrame::Result {
                request_id: rid.to_string(),
                status,
                payload: it.next().unwrap_or("").trim().to_string(),
            })
        }
        "TELEMETRY" => {
            let (props, body) = args.split_once(' ').unwrap_or((args, ""));
            if props.is_empty() {
                return Err("TELEMETRY needs properties ('-' for none) and a body".into());
            }
            let properties = if props == "-" {
                Vec::new()
            } else {
                property_bag::decode(props)
            };
            Ok(BoardFrame::Telemetry {
                properties,
                body: unescape(body),
            })
        }
        "TWINGET" => Ok(BoardFrame::TwinGet(one("a request id")?)),
        "REPORT" => {
            let (rid, patch) = args.split_once(' ').unwrap_or((args, ""));
            if rid.is_empty() || patch.trim().is_empty() {
                return Err("REPORT needs a request id and a JSON patch".into());
            }
            Ok(BoardFrame::Report {
                request_id: rid.to_string(),
                patch: patch.trim().to_string(),
            })
        }
        "HELLO" => {
            let mut it = args.split_whitespace();
            Ok(BoardFrame::Hello {
                device_id: it.next().map(str::to_string),
                firmware: it.next().map(str::to_string),
            })
        }
        "" => Err("empty frame".into()),
        other => Err(format!(
            "unknown frame '{other}' (expected DONE, ABANDON, REJECT, RESULT, TELEMETRY, TWINGET, REPORT or HELLO)"
        )),
    }
}

/// Bytes escaped in a body: controls, `%` (and, by the crate's rule, every
/// non-ASCII byte), so a body of any bytes fits the rest of one line.
const BODY_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// Escapes a body for the rest of a line: `%`, control and non-ASCII bytes become `%XX`.
pub fn escape(body: &[u8]) -> String {
    percent_encode(body, BODY_ESCAPES).to_string()
}

/// Reverses [`escape`]; a `%` not followed by two hex digits is kept as is.
pub fn unescape(s: &str) -> Vec<u8> {
    percent_decode_str(s).collect()
}

/// The C2D frame for a locked message (without line ending). An empty body
/// is written as nothing, without the space before it.
pub fn c2d_frame(m: &C2dMessage) -> String {
    let props = property_bag::encode(property_bag::c2d_pairs(m, &[], None));
    let mut f = format!(
        "{PREFIX}C2D {} {} {}",
        m.lock_token.as_deref().unwrap_or("-"),
        m.message_id,
        if props.is_empty() {
            "-".to_string()
        } else {
            props
        },
    );
    if !m.body.is_empty() {
        f.push(' ');
        f.push_str(&escape(&m.body));
    }
    f
}

/// The method frame (without line ending). The payload is the caller's JSON
/// on one line: whitespace outside strings removed, keys in the caller's
/// order; method names never hold spaces (the hub refuses them).
pub fn method_frame(request_id: &str, name: &str, payload: &[u8]) -> String {
    format!(
        "{PREFIX}METHOD {request_id} {name} {}",
        compact_json(payload)
    )
}

/// The answer to a board's `TWINGET` or `REPORT` (without line ending):
/// the status, then compact JSON when there is a body.
pub fn twin_frame(request_id: &str, status: u16, body: &[u8]) -> String {
    let mut f = format!("{PREFIX}TWIN {request_id} {status}");
    if !body.is_empty() {
        f.push(' ');
        f.push_str(&compact_json(body));
    }
    f
}

/// A desired-properties patch for the board (without line ending): its
/// `$version`, then the patch (with `$version` too) as compact JSON.
pub fn desired_frame(version: u64, patch: &[u8]) -> String {
    format!("{PREFIX}DESIRED {version} {}", compact_json(patch))
}

/// JSON text without the whitespace between tokens (line breaks inside
/// strings are already escaped in valid JSON, so the result is one line).
/// Unlike re-serialising, it keeps the key order the caller chose.
fn compact_json(json: &[u8]) -> String {
    let text = String::from_utf8_lossy(json);
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The frame that asks a board to introduce itself (sent when its port
/// opens, so a board that booted before Hublet opened the port is found
/// without a reset).
pub fn who_frame() -> String {
    format!("{PREFIX}WHO")
}

/// A frame from the hub, as a board sees it. Firmware parses these; in
/// Hublet the board emulator does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubFrame {
    /// A C2D message, locked for the board.
    C2d {
        /// The lock token to answer with.
        lock: String,
        /// The message id.
        message_id: String,
        /// System (`$.cid`, `$.ct`, ...), `iothub-ack` and application properties.
        properties: Vec<(String, Option<String>)>,
        /// The body.
        body: Vec<u8>,
    },
    /// The hub asks the board to say HELLO.
    Who,
    /// A direct-method call.
    Method {
        /// Echo it in `RESULT`.
        request_id: String,
        /// The method name.
        name: String,
        /// The JSON payload.
        payload: String,
    },
    /// The answer to `TWINGET` or `REPORT`.
    Twin {
        /// The board's request id.
        request_id: String,
        /// 200 (the twin), 204 (reported patch stored), or an error status.
        status: u16,
        /// The JSON body (empty for none).
        body: String,
    },
    /// A desired-properties patch.
    Desired {
        /// The desired `$version` after the change.
        version: u64,
        /// The patch as JSON (a `null` member removes that property).
        patch: String,
    },
}

/// Reads a hub frame: `None` for a line that is not a frame.
pub fn parse_hub(line: &[u8]) -> Option<Result<HubFrame, String>> {
    let rest = line.strip_prefix(PREFIX.as_bytes())?;
    let Ok(rest) = std::str::from_utf8(rest) else {
        return Some(Err("frame is not valid UTF-8".into()));
    };
    let rest = rest.trim_end_matches(['\r', '\n']);
    let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(match verb {
        "C2D" => {
            let mut it = args.splitn(4, ' ');
            match (it.next(), it.next(), it.next()) {
                (Some(lock), Some(mid), Some(props))
                    if !lock.is_empty() && !mid.is_empty() && !props.is_empty() =>
                {
                    Ok(HubFrame::C2d {
                        lock: lock.to_string(),
                        message_id: mid.to_string(),
                        properties: if props == "-" {
                            Vec::new()
                        } else {
                            property_bag::decode(props)
                        },
                        body: unescape(it.next().unwrap_or("")),
                    })
                }
                _ => Err("C2D needs a lock token, a message id and properties".into()),
            }
        }
        "METHOD" => {
            let mut it = args.splitn(3, ' ');
            match (it.next(), it.next()) {
                (Some(rid), Some(name)) if !rid.is_empty() && !name.is_empty() => {
                    Ok(HubFrame::Method {
                        request_id: rid.to_string(),
                        name: name.to_string(),
                        payload: it.next().unwrap_or("").to_string(),
                    })
                }
                _ => Err("METHOD needs a request id and a name".into()),
            }
        }
        "WHO" => Ok(HubFrame::Who),
        "TWIN" => {
            let mut it = args.splitn(3, ' ');
            match (it.next(), it.next().and_then(|s| s.parse::<u16>().ok())) {
                (Some(rid), Some(status)) if !rid.is_empty() => Ok(HubFrame::Twin {
                    request_id: rid.to_string(),
                    status,
                    body: it.next().unwrap_or("").to_string(),
                }),
                _ => Err("TWIN needs a request id and a status".into()),
            }
        }
        "DESIRED" => match args.split_once(' ') {
            Some((v, patch)) if v.parse::<u64>().is_ok() && !patch.is_empty() => {
                Ok(HubFrame::Desired {
                    version: v.parse().unwrap_or_default(),
                    patch: patch.to_string(),
                })
            }
            _ => Err("DESIRED needs a version and a JSON patch".into()),
        },
        other => Err(format!("unknown hub frame '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_payload_keeps_the_callers_key_order_on_one_line() {
        let f = method_frame(
            "7",
            "set",
            b"{\n  \"z\": 1,\n  \"a\": \"x y\\n\\\"q\\\"\" }",
        );
        assert_eq!(f, r#"@@ METHOD 7 set {"z":1,"a":"x y\n\"q\""}"#);
        assert_eq!(method_frame("8", "ping", b"null"), "@@ METHOD 8 ping null");
    }

    #[test]
    fn console_lines_and_frames_are_told_apart() {
        assert_eq!(parse(b"boot: wifi connecting"), Line::Console);
        assert_eq!(
            parse(b"@@DONE x"),
            Line::Console,
            "the prefix includes the space"
        );
        assert_eq!(
            parse(b"@@ DONE 3f2a"),
            Line::Frame(BoardFrame::Done("3f2a".into()))
        );
        assert_eq!(
            parse(b"@@ REJECT 3f2a\r"),
            Line::Frame(BoardFrame::Reject("3f2a".into()))
        );
        assert_eq!(
            parse(b"@@ RESULT 7 200 {\"ok\": true}"),
            Line::Frame(BoardFrame::Result {
                request_id: "7".into(),
                status: 200,
                payload: "{\"ok\": true}".into()
            })
        );
        assert_eq!(
            parse(b"@@ RESULT 7 -1"),
            Line::Frame(BoardFrame::Result {
                request_id: "7".into(),
                status: -1,
                payload: String::new()
            })
        );
        assert_eq!(
            parse(b"@@ TELEMETRY %24.ct=application%2Fjson&room=lab {\"t\":21.5}"),
            Line::Frame(BoardFrame::Telemetry {
                properties: vec![
                    ("$.ct".into(), Some("application/json".into())),
                    ("room".into(), Some("lab".into()))
                ],
                body: b"{\"t\":21.5}".to_vec()
            })
        );
        assert_eq!(
            parse(b"@@ HELLO bench-7 1.4.2"),
            Line::Frame(BoardFrame::Hello {
                device_id: Some("bench-7".into()),
                firmware: Some("1.4.2".into())
            })
        );
        // A board that does not know its device id may say HELLO alone.
        assert_eq!(
            parse(b"@@ HELLO"),
            Line::Frame(BoardFrame::Hello {
                device_id: None,
                firmware: None
            })
        );
        for bad in [
            &b"@@ "[..],
            b"@@ DONE",
            b"@@ DONE a b",
            b"@@ RESULT 7 ok",
            b"@@ FLY away",
            b"@@ TELEMETRY",
            b"@@ \xff\xfe",
        ] {
            assert!(matches!(parse(bad), Line::Malformed(_)), "{bad:?}");
        }
    }

    #[test]
    fn twin_frames_both_ways() {
        assert_eq!(
            parse(b"@@ TWINGET boot"),
            Line::Frame(BoardFrame::TwinGet("boot".into()))
        );
        assert_eq!(
            parse(b"@@ REPORT r1 {\"led\": true}"),
            Line::Frame(BoardFrame::Report {
                request_id: "r1".into(),
                patch: "{\"led\": true}".into()
            })
        );
        for bad in [
            &b"@@ TWINGET"[..],
            b"@@ TWINGET a b",
            b"@@ REPORT r1",
            b"@@ REPORT",
        ] {
            assert!(matches!(parse(bad), Line::Malformed(_)), "{bad:?}");
        }
        let t = twin_frame("boot", 200, b"{ \"desired\": {\"$version\": 1} }");
        assert_eq!(t, r#"@@ TWIN boot 200 {"desired":{"$version":1}}"#);
        assert_eq!(
            parse_hub(t.as_bytes()),
            Some(Ok(HubFrame::Twin {
                request_id: "boot".into(),
                status: 200,
                body: r#"{"desired":{"$version":1}}"#.into()
            }))
        );
        let d = desired_frame(3, b"{\"led\": true, \"$version\": 3}");
        assert_eq!(d, r#"@@ DESIRED 3 {"led":true,"$version":3}"#);
        assert_eq!(
            parse_hub(d.as_bytes()),
            Some(Ok(HubFrame::Desired {
                version: 3,
                patch: r#"{"led":true,"$version":3}"#.into()
            }))
        );
        assert!(matches!(parse_hub(b"@@ DESIRED x {}"), Some(Err(_))));
    }

    #[test]
    fn bodies_escape_only_what_breaks_a_line() {
        assert_eq!(escape(b"{\"a\": \"b c\"}"), "{\"a\": \"b c\"}");
        assert_eq!(escape(b"50% off\r\n\x00\xff"), "50%25 off%0D%0A%00%FF");
        assert_eq!(unescape("50%25 off%0D%0A%00%FF"), b"50% off\r\n\x00\xff");
        assert_eq!(unescape("100%"), b"100%");
        assert_eq!(unescape("%zz"), b"%zz");
    }

    #[test]
    fn hub_frames_read_back() {
        let m = HubFrame::Method {
            request_id: "9".into(),
            name: "setPoint".into(),
            payload: "{\"t\":21}".into(),
        };
        let line = method_frame("9", "setPoint", b"{ \"t\" : 21 }");
        assert_eq!(line, "@@ METHOD 9 setPoint {\"t\":21}");
        assert_eq!(parse_hub(line.as_bytes()), Some(Ok(m)));
        assert_eq!(
            parse_hub(b"@@ C2D 5f 7 iothub-ack=full&color=red on%0Aoff"),
            Some(Ok(HubFrame::C2d {
                lock: "5f".into(),
                message_id: "7".into(),
                properties: vec![
                    ("iothub-ack".into(), Some("full".into())),
                    ("color".into(), Some("red".into()))
                ],
                body: b"on\noff".to_vec(),
            }))
        );
        assert_eq!(parse_hub(b"hello"), None);
        assert!(matches!(parse_hub(b"@@ C2D 5f"), Some(Err(_))));
    }

    proptest::proptest! {
        #[test]
        fn any_body_round_trips_on_one_line(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let e = escape(&body);
            proptest::prop_assert!(!e.contains('\n') && !e.contains('\r'));
            proptest::prop_assert_eq!(unescape(&e), body);
        }

        #[test]
        fn no_line_ever_panics_the_parser(line in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let mut l = b"@@ ".to_vec();
            l.extend(line);
            let _ = parse(&l);
        }
    }
}
