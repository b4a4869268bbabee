//! One clear line per error, distinct exit codes scripts can branch on, and
//! with `--json` one JSON document in the API's error shape.

use std::process::ExitCode;

use serde::Serialize;

use crate::client::ClientError;

/// Exit codes (documented in docs/cli.md; `cli` tests check every row).
pub mod codes {
    /// Something else failed.
    pub const FAILURE: u8 = 1;
    /// Bad input: invalid arguments, ids, properties, sizes, timeouts (400xxx, 403009, 413001).
    pub const BAD_INPUT: u8 = 2;
    /// Not found: the device (404001) or module (404010) is not registered, no such board or simulated device.
    pub const NOT_FOUND: u8 = 3;
    /// Timed out / not reachable in time: 404103, 504101, 404104, or `--wait-feedback` ran out.
    pub const TIMEOUT: u8 = 4;
    /// Unauthorized (401003) or refused by the API's security checks.
    pub const UNAUTHORIZED: u8 = 5;
    /// No hub running, or it cannot be reached.
    pub const NO_HUB: u8 = 6;
    /// Conflict: already exists (409001, 409301), etag mismatch (412001), lock lost (412002), queue full (403004).
    pub const CONFLICT: u8 = 7;
    /// The message reached a negative outcome (`send --wait-feedback`).
    pub const NEGATIVE_FEEDBACK: u8 = 8;
    /// The device answered a method with a status that is not 2xx (`invoke`, unless `--any-status`).
    pub const DEVICE_STATUS: u8 = 9;
    /// `hublet db check` found the database damaged.
    pub const DAMAGED: u8 = 10;
}

/// The exit code for an IoT Hub error code.
pub fn for_hub_code(code: u32) -> u8 {
    match code {
        404001 | 404010 => codes::NOT_FOUND,
        404103 | 504101 | 404104 => codes::TIMEOUT,
        401003 => codes::UNAUTHORIZED,
        409001 | 409301 | 412001 | 412002 | 403004 => codes::CONFLICT,
        c if (400000..401000).contains(&c) || c == 403009 || c == 413001 => codes::BAD_INPUT,
        _ => codes::FAILURE,
    }
}

/// A name and one sentence for an exit code, for errors the CLI itself
/// raises (the hub's own errors carry IoT Hub's name and explanation).
pub fn describe(code: u8) -> (&'static str, &'static str) {
    match code {
        codes::BAD_INPUT => (
            "BadInput",
            "An argument or option is not valid; the message says which.",
        ),
        codes::NOT_FOUND => ("NotFound", "What the command names does not exist."),
        codes::TIMEOUT => (
            "TimedOut",
            "What the command waited for did not happen in time.",
        ),
        codes::UNAUTHORIZED => (
            "Unauthorized",
            "The hub refused the token or the request's origin.",
        ),
        codes::NO_HUB => (
            "NoHub",
            "No hub answers: start one with `hublet serve`, or point --hub and --token at one.",
        ),
        codes::CONFLICT => (
            "Conflict",
            "The hub's state does not allow it now (exists already, changed meanwhile, queue full).",
        ),
        codes::NEGATIVE_FEEDBACK => (
            "NegativeFeedback",
            "The message ended without being completed (rejected, expired, abandoned too often or purged).",
        ),
        codes::DEVICE_STATUS => (
            "DeviceErrorStatus",
            "The device answered the method with a status that is not 2xx.",
        ),
        codes::DAMAGED => (
            "DatabaseDamaged",
            "The database file is damaged; the report says what to do. It was not modified.",
        ),
        _ => ("Failure", "The command failed; the message says why."),
    }
}

/// The JSON error document: the API's error object (`code`, `name`,
/// `message`, `explanation`, `requestId`, `info`) plus the exit code and,
/// for an API error, its HTTP status.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDoc<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: Option<u32>,
    name: &'a str,
    message: &'a str,
    explanation: &'a str,
    exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<&'a hublet_api::dto::ErrorInfo>,
}

/// Prints the error in one line (or as one JSON document with `--json`)
/// and picks the exit code.
pub fn report(e: &anyhow::Error, json: bool) -> ExitCode {
    let other = format!("{e:#}");
    let (exit, body, line) = match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api(a)) => {
            let crate::client::ApiFailure {
                status,
                code,
                name,
                message,
                explanation,
                request_id,
                info,
            } = a.as_ref();
            let exit = code.map(for_hub_code).unwrap_or(match *status {
                400 | 413 => codes::BAD_INPUT,
                401 | 403 => codes::UNAUTHORIZED,
                404 => codes::NOT_FOUND,
                409 | 412 => codes::CONFLICT,
                _ => codes::FAILURE,
            });
            let label = match code {
                Some(c) => format!("{c} {name}"),
                None => name.clone(),
            };
            let story = request_id
                .as_ref()
                .map(|r| format!(" (its story: hublet trace --correlation {r})"))
                .unwrap_or_default();
            (
                exit,
                ErrorBody {
                    code: *code,
                    name,
                    message,
                    explanation,
                    exit_code: exit,
                    status: Some(*status),
                    request_id: request_id.as_deref(),
                    info: info.as_ref(),
                },
                format!("error: {label}: {message}{story}"),
            )
        }
        Some(ClientError::Reported(code, message)) => {
            // The command already printed its one document (a result with a
            // failing outcome); only the exit code and a human line remain.
            if !json {
                eprintln!("error: {message}");
            }
            return ExitCode::from(*code);
        }
        Some(ClientError::NoHub(msg)) => {
            let (name, explanation) = describe(codes::NO_HUB);
            (
                codes::NO_HUB,
                ErrorBody {
                    code: None,
                    name,
                    message: msg,
                    explanation,
                    exit_code: codes::NO_HUB,
                    status: None,
                    request_id: None,
                    info: None,
                },
                format!("error: {msg}"),
            )
        }
        Some(ClientError::Exit(code, msg)) => {
            let (name, explanation) = describe(*code);
            (
                *code,
                ErrorBody {
                    code: None,
                    name,
                    message: msg,
                    explanation,
                    exit_code: *code,
                    status: None,
                    request_id: None,
                    info: None,
                },
                format!("error: {msg}"),
            )
        }
        None => {
            let (name, explanation) = describe(codes::FAILURE);
            (
                codes::FAILURE,
                ErrorBody {
                    code: None,
                    name,
                    message: &other,
                    explanation,
                    exit_code: codes::FAILURE,
                    status: None,
                    request_id: None,
                    info: None,
                },
                format!("error: {other}"),
            )
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string(&ErrorDoc { error: body }).unwrap_or_default()
        );
    } else {
        eprintln!("{line}");
    }
    ExitCode::from(exit)
}

/// A command-line usage error (unknown option, bad value, missing
/// argument), as one JSON document with `--json`; exit code 2.
pub fn usage(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let message = e
        .to_string()
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("invalid command line")
        .trim_start_matches("error:")
        .trim()
        .to_string();
    let (_, explanation) = describe(codes::BAD_INPUT);
    let name = match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => "InvalidValue",
        ErrorKind::UnknownArgument => "UnknownArgument",
        ErrorKind::InvalidSubcommand => "UnknownCommand",
        ErrorKind::MissingRequiredArgument => "MissingArgument",
        _ => "UsageError",
    };
    let doc = ErrorDoc {
        error: ErrorBody {
            code: None,
            name,
            message: &message,
            explanation,
            exit_code: codes::BAD_INPUT,
            status: None,
            request_id: None,
            info: None,
        },
    };
    println!("{}", serde_json::to_string(&doc).unwrap_or_default());
    ExitCode::from(codes::BAD_INPUT)
}
