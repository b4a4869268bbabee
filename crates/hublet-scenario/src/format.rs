//! The scenario file format, version 1: what a user writes.
//!
//! A scenario is a TOML file. These types are its only definition: the
//! parser reads them, the JSON Schema published in `docs/scenario.schema.json`
//! is generated from them (editors complete and check files with it), and
//! `docs/scenarios.md` documents them. Unknown keys are errors, so a typo
//! fails before anything runs instead of being silently ignored.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::Dur;

/// The format version this build reads.
pub const VERSION: u32 = 1;

/// One scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Format version: `1`.
    pub version: u32,
    /// The scenario's name (JUnit testcase name; `--filter` matches it).
    pub name: String,
    /// One sentence on what it checks.
    #[serde(default)]
    pub description: Option<String>,
    /// Variables, used as `{{name}}` in any text value.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Parameter matrix: each combination of these lists runs the whole
    /// scenario once (one JUnit testcase each), its values set as variables.
    #[serde(default)]
    pub matrix: BTreeMap<String, Vec<Value>>,
    /// Longest any one step may take unless it says otherwise (default 60 s).
    #[serde(default)]
    pub step_timeout: Option<Dur>,
    /// The devices the scenario needs; checked (and simulated ones started)
    /// before the first step.
    #[serde(default)]
    pub devices: Vec<DeviceNeed>,
    /// Steps run before `steps`; a failure here fails the run as an error.
    #[serde(default)]
    pub setup: Vec<StepEntry>,
    /// The checks, in order; the first failing step ends them.
    #[serde(default)]
    pub steps: Vec<StepEntry>,
    /// Steps run after `steps` whatever happened (restore a device, purge).
    #[serde(default)]
    pub teardown: Vec<StepEntry>,
}

/// A device the scenario needs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceNeed {
    /// Its id (templates allowed).
    pub id: String,
    /// `registered` (any device that exists), `simulated` (started from
    /// `profile` when not already running) or `serial` (a board bound to
    /// the bridge).
    #[serde(default)]
    pub kind: NeedKind,
    /// The simulator profile of a `simulated` device.
    #[serde(default)]
    pub profile: Option<String>,
    /// Wait until the device is connected before the first step.
    #[serde(default)]
    pub online: bool,
    /// How long to wait for it (default 30 s).
    #[serde(default)]
    pub within: Option<Dur>,
}

/// What kind of device a scenario needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NeedKind {
    /// Any registered device (a board, SDK firmware, a simulated device).
    #[default]
    Registered,
    /// A simulated device; started from its profile if it is not running.
    Simulated,
    /// A board on the serial bridge.
    Serial,
}

/// Declares a step's struct with the fields every step has.
macro_rules! step {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// A label for reports (default: the step's kind and target).
            #[serde(default)]
            pub name: Option<String>,
            /// Longest this step may take (default: the scenario's `step_timeout`).
            #[serde(default)]
            pub timeout: Option<Dur>,
            $($(#[$fm])* pub $f: $t,)*
        }
    };
}

/// A step and where it is in the file (byte offsets), for error messages
/// and reports that point at the line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct StepEntry {
    /// The step.
    pub step: Step,
    /// Where its table starts and ends in the file (empty when not read from one).
    #[serde(skip)]
    pub span: std::ops::Range<usize>,
}

impl<'de> Deserialize<'de> for StepEntry {
    /// Reads the step's table with its position first, then the step from
    /// the table: the position survives even though `Step`'s tag (`do`)
    /// makes serde buffer the table (which loses toml's positions).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = toml::Spanned::<toml::Table>::deserialize(d)?;
        let span = raw.span();
        let step = step_from_table(raw.into_inner())?;
        Ok(StepEntry { step, span })
    }
}

fn step_from_table<E: serde::de::Error>(table: toml::Table) -> Result<Step, E> {
    let what = table
        .get("do")
        .and_then(|v| v.as_str())
        .map(|s| format!("step `{s}`"))
        .unwrap_or_else(|| "a step".to_string());
    toml::Value::Table(table)
        .try_into::<Step>()
        .map_err(|e| E::custom(format!("{what}: {}", e.message().trim())))
}

/// A step inside another (`repeat`): read from a table already taken
/// apart, so it has no position of its own; errors point at the outer step.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct NestedStep(pub Step);

impl<'de> Deserialize<'de> for NestedStep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        step_from_table(toml::Table::deserialize(d)?).map(NestedStep)
    }
}

impl NestedStep {
    /// As a step located at `span` (its outer step's).
    pub fn at(&self, span: std::ops::Range<usize>) -> StepEntry {
        StepEntry {
            step: self.0.clone(),
            span,
        }
    }
}

/// One step: a table whose `do` key says what it does.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Step {
    /// Send a cloud-to-device message.
    Send(Send),
    /// Wait for a sent message's delivery feedback.
    ExpectFeedback(ExpectFeedback),
    /// Check a device's C2D queue.
    ExpectQueue(ExpectQueue),
    /// Empty a device's C2D queue.
    Purge(Purge),
    /// Invoke a direct method and check the answer.
    Invoke(Invoke),
    /// Wait for device-to-cloud messages that match.
    ExpectTelemetry(ExpectTelemetry),
    /// Patch a device twin's desired properties.
    UpdateDesired(UpdateDesired),
    /// Wait until the twin's reported properties match.
    ExpectReported(ExpectReported),
    /// Send bytes to a serial board.
    SerialSend(SerialSend),
    /// Wait for a console line from a serial board.
    ExpectLine(ExpectLine),
    /// Do something bad to a device on purpose.
    Fault(Fault),
    /// Pause.
    Wait(Wait),
    /// Set variables.
    Set(Set),
    /// Run steps several times.
    Repeat(Repeat),
    /// Run a command of the hub's command library.
    Command(CommandStep),
}

step! {
    /// `do = "send"`: one C2D message, with every option IoT Hub has.
    Send {
        /// Target device.
        device: String,
        /// The body: text, or a table/array sent as JSON.
        #[serde(default)]
        body: Value,
        /// How `body` (a string) is written: `text` (default), `hex` or `base64`.
        #[serde(default)]
        body_encoding: Option<String>,
        /// Application properties.
        #[serde(default)]
        properties: BTreeMap<String, String>,
        /// Feedback wanted: `none` (default), `positive`, `negative` or `full`.
        #[serde(default)]
        ack: Option<String>,
        /// Time to live (default: the hub's).
        #[serde(default)]
        ttl: Option<Dur>,
        /// An absolute expiry time instead (RFC 3339, IoT Hub's `ExpiryTimeUtc`).
        #[serde(default)]
        expiry: Option<String>,
        /// Message id (default: generated). Sets `{{message_id}}` either way.
        #[serde(default)]
        message_id: Option<String>,
        /// Correlation id.
        #[serde(default)]
        correlation_id: Option<String>,
        /// User id.
        #[serde(default)]
        user_id: Option<String>,
        /// Content type (default `application/json` for a table body).
        #[serde(default)]
        content_type: Option<String>,
        /// Content encoding.
        #[serde(default)]
        content_encoding: Option<String>,
        /// Expect the send to be refused with this IoT Hub error code
        /// (e.g. 403004, the queue is full) instead of accepted.
        #[serde(default)]
        expect_error: Option<u32>,
    }
}

step! {
    /// `do = "expect_feedback"`: the feedback record of a sent message.
    ExpectFeedback {
        /// The message id (default: the last message sent, `{{message_id}}`).
        #[serde(default)]
        message: Option<String>,
        /// `Success`, `Expired`, `DeliveryCountExceeded`, `Rejected` or `Purged`.
        status: String,
        /// How long to wait for it (default 10 s).
        #[serde(default)]
        within: Option<Dur>,
    }
}

step! {
    /// `do = "expect_queue"`: what a device's C2D queue holds now (or within a time).
    ExpectQueue {
        /// The device.
        device: String,
        /// Messages in the queue, any state.
        #[serde(default)]
        count: Option<u32>,
        /// Messages waiting to be delivered (`Enqueued`).
        #[serde(default)]
        enqueued: Option<u32>,
        /// Messages delivered and locked, not yet settled (`Invisible`).
        #[serde(default)]
        locked: Option<u32>,
        /// Keep looking until this long has passed (default: look once).
        #[serde(default)]
        within: Option<Dur>,
    }
}

step! {
    /// `do = "purge"`: empty a device's C2D queue (feedback `Purged` for messages that asked).
    Purge {
        /// The device.
        device: String,
    }
}

step! {
    /// `do = "invoke"`: a direct method call.
    Invoke {
        /// The device.
        device: String,
        /// A module of the device, instead of the device.
        #[serde(default)]
        module: Option<String>,
        /// Method name.
        method: String,
        /// JSON payload (any TOML value; default null).
        #[serde(default)]
        payload: Value,
        /// Seconds to wait for the device to connect (0 to 300, default 0).
        #[serde(default)]
        connect_timeout: Option<u64>,
        /// Seconds to wait for its answer (5 to 300, default 30).
        #[serde(default)]
        response_timeout: Option<u64>,
        /// What the answer must be.
        #[serde(default)]
        expect: Option<MethodExpect>,
        /// Variables taken from the answer's payload: name = JSONPath.
        #[serde(default)]
        capture: BTreeMap<String, String>,
    }
}

/// What a method's answer must be.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodExpect {
    /// The device's status, or IoT Hub's error code when the call fails
    /// (404103 offline, 504101 no answer in time). Default: any 2xx.
    #[serde(default)]
    pub status: Option<i64>,
    /// Round trip below this.
    #[serde(default)]
    pub latency_below: Option<Dur>,
    /// The payload contains this (see [`Matcher::payload`]).
    #[serde(default)]
    pub payload: Option<Value>,
    /// Comparisons at JSONPaths in the payload.
    #[serde(default)]
    pub paths: Vec<PathCheck>,
    /// A regular expression the payload's text must match.
    #[serde(default)]
    pub matches: Option<String>,
}

/// Checks on a JSON document (a payload, a telemetry body, reported
/// properties). In a file its three fields sit in the step (or `expect`)
/// table itself; [`Matcher`] gathers them for the checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matcher {
    /// The document contains this: every key given, with a matching value
    /// (tables compared key by key, arrays element by element); others may exist.
    pub payload: Option<Value>,
    /// Comparisons at JSONPaths (RFC 9535).
    pub paths: Vec<PathCheck>,
    /// A regular expression the document's text must match (for a JSON
    /// string, the string itself).
    pub matches: Option<String>,
}

/// A comparison at a JSONPath; every comparison given must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathCheck {
    /// The path, e.g. `$.temperature` or `$.readings[0].value`.
    pub path: String,
    /// The value exists (true) or does not (false).
    #[serde(default)]
    pub exists: Option<bool>,
    /// Equal to.
    #[serde(default)]
    pub eq: Option<Value>,
    /// Not equal to.
    #[serde(default)]
    pub ne: Option<Value>,
    /// Greater than (numbers).
    #[serde(default)]
    pub gt: Option<f64>,
    /// At least.
    #[serde(default)]
    pub ge: Option<f64>,
    /// Less than.
    #[serde(default)]
    pub lt: Option<f64>,
    /// At most.
    #[serde(default)]
    pub le: Option<f64>,
    /// A regular expression the value (as text) must match.
    #[serde(default)]
    pub matches: Option<String>,
}

step! {
    /// `do = "expect_telemetry"`: device-to-cloud messages that match, in a window.
    ExpectTelemetry {
        /// The device.
        device: String,
        /// Application properties the message must carry (value `*`: any).
        #[serde(default)]
        properties: BTreeMap<String, String>,
        /// At least this many matching messages (default 1).
        #[serde(default)]
        count: Option<u32>,
        /// At most this many (e.g. `0`: none may match).
        #[serde(default)]
        at_most: Option<u32>,
        /// At least this many matching messages per second over the whole
        /// window (the step watches the whole window).
        #[serde(default)]
        rate_min: Option<f64>,
        /// The window (default 30 s). Messages count from the start of the
        /// latest step that acted (a `send`, `invoke`, `fault`, …; the
        /// scenario's start if none did), so one that arrives before this
        /// step begins still counts. With `at_most` the step waits the whole window.
        #[serde(default)]
        within: Option<Dur>,
        /// Count messages from the scenario's start instead.
        #[serde(default)]
        since_start: bool,
        /// The body contains this JSON (see [`Matcher::payload`]).
        #[serde(default)]
        payload: Option<Value>,
        /// Comparisons at JSONPaths in the body.
        #[serde(default)]
        paths: Vec<PathCheck>,
        /// A regular expression the body's text must match.
        #[serde(default)]
        matches: Option<String>,
        /// Variables from the first matching body: name = JSONPath.
        #[serde(default)]
        capture: BTreeMap<String, String>,
    }
}

step! {
    /// `do = "update_desired"`: patch desired properties.
    UpdateDesired {
        /// The device.
        device: String,
        /// A module of the device.
        #[serde(default)]
        module: Option<String>,
        /// The patch (a table; `null` removes a property).
        desired: Value,
    }
}

step! {
    /// `do = "expect_reported"`: the twin's reported properties, within a time.
    ExpectReported {
        /// The device.
        device: String,
        /// A module of the device.
        #[serde(default)]
        module: Option<String>,
        /// How long to keep looking (default 10 s).
        #[serde(default)]
        within: Option<Dur>,
        /// The reported properties contain this (see [`Matcher::payload`]).
        #[serde(default)]
        payload: Option<Value>,
        /// Comparisons at JSONPaths in the reported properties.
        #[serde(default)]
        paths: Vec<PathCheck>,
        /// A regular expression their JSON text must match.
        #[serde(default)]
        matches: Option<String>,
        /// Variables from the reported properties: name = JSONPath.
        #[serde(default)]
        capture: BTreeMap<String, String>,
    }
}

step! {
    /// `do = "serial_send"`: bytes to a board (exactly one of text, hex, escaped).
    SerialSend {
        /// The board's device id.
        device: String,
        /// Text, sent with the board's line ending.
        #[serde(default)]
        text: Option<String>,
        /// Hex bytes, sent as they are.
        #[serde(default)]
        hex: Option<String>,
        /// Text with C escapes (`AT\r\n`).
        #[serde(default)]
        escaped: Option<String>,
    }
}

step! {
    /// `do = "expect_line"`: a console line from a board matching a regular expression.
    ExpectLine {
        /// The board's device id.
        device: String,
        /// The regular expression; named groups become variables.
        matches: String,
        /// How long to wait (default 10 s).
        #[serde(default)]
        within: Option<Dur>,
        /// Look from the scenario's start (boot output) instead of the start
        /// of the latest step that acted (a `serial_send`, `invoke`, …).
        #[serde(default)]
        since_start: bool,
    }
}

step! {
    /// `do = "fault"`: something bad, on purpose.
    Fault {
        /// The device (every fault but `restart_hub` and `crash_hub` needs one).
        #[serde(default)]
        device: String,
        /// `disconnect` (a simulated device goes offline cleanly), `drop_link`
        /// (a simulated device's connection breaks, no goodbye; it reconnects
        /// with back-off), `unresponsive` (a simulated device stops answering
        /// methods and acknowledging C2D), `resume` (undo those),
        /// `unplug` / `replug` (a serial board's port is released / taken back),
        /// `restart_hub` (the hub stops cleanly and starts again) or
        /// `crash_hub` (the hub is killed, SIGKILL, and started again): these
        /// two need a hub the runner started (`hublet test --serve`).
        fault: FaultKind,
        /// How long the fault lasts before the device recovers by itself
        /// (default: until `resume`).
        #[serde(default)]
        for_time: Option<Dur>,
    }
}

/// The faults a scenario can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A simulated device disconnects cleanly and stays offline.
    Disconnect,
    /// A simulated device's link breaks without a goodbye.
    DropLink,
    /// A simulated device stays connected but answers nothing.
    Unresponsive,
    /// Undo a simulated device's fault.
    Resume,
    /// Release a serial board's port (as if unplugged).
    Unplug,
    /// Take a serial board's port back.
    Replug,
    /// Stop the hub cleanly and start it again (same data, same addresses).
    RestartHub,
    /// Kill the hub (SIGKILL, as a power cut would) and start it again.
    CrashHub,
}

step! {
    /// `do = "command"`: a saved command of the hub's library (a method call
    /// or a C2D message) on a device, its `{{var}}`s from `vars`, then the
    /// command's defaults.
    CommandStep {
        /// The command's name (`hublet commands list`).
        command: String,
        /// The device.
        device: String,
        /// Values for the command's variables.
        #[serde(default)]
        vars: BTreeMap<String, Value>,
        /// For a method: what the answer must be (as `invoke`'s `expect`).
        #[serde(default)]
        expect: Option<MethodExpect>,
        /// For a method: variables from the answer's payload.
        #[serde(default)]
        capture: BTreeMap<String, String>,
    }
}

step! {
    /// `do = "wait"`: pause.
    Wait {
        /// How long.
        time: Dur,
    }
}

step! {
    /// `do = "set"`: set variables (templates allowed in the values).
    Set {
        /// name = value.
        vars: BTreeMap<String, Value>,
    }
}

step! {
    /// `do = "repeat"`: run `steps` `times` times; `{{iteration}}` is 1, 2, ….
    Repeat {
        /// How many times.
        times: u32,
        /// The steps (inline tables: `steps = [{ do = "invoke", … }]`).
        steps: Vec<NestedStep>,
    }
}

/// The three steps that check a JSON document gather their fields into a
/// [`Matcher`] the same way.
macro_rules! gathers_matcher {
    ($($t:ty),*) => {$(
        impl $t {
            /// Its checks.
            pub fn matcher(&self) -> Matcher {
                Matcher {
                    payload: self.payload.clone(),
                    paths: self.paths.clone(),
                    matches: self.matches.clone(),
                }
            }
        }
    )*};
}

gathers_matcher!(MethodExpect, ExpectTelemetry, ExpectReported);
