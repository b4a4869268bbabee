//! Reading a scenario file: TOML into [`ScenarioFile`], then the checks
//! that need the whole file (variables defined before use, regular
//! expressions and JSONPaths well formed, option values known). Every
//! problem is reported with the file, line and column before anything runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::format::{ScenarioFile, Step, StepEntry, VERSION};
use crate::matcher;
use crate::template::{self, names_in_value};

/// The largest scenario file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Variables every run has without declaring them.
pub const BUILTIN_VARS: [&str; 3] = ["scenario", "seed", "case"];

/// A file that cannot run, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A scenario read from a file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it came from.
    pub file: PathBuf,
    /// Its text (for positions in reports).
    pub source: String,
    /// What it says.
    pub spec: ScenarioFile,
}

impl Scenario {
    /// 1-based line and column of a byte offset in the file.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        position(&self.source, offset)
    }
}

fn position(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Reads and checks a scenario file.
pub fn load(file: &Path) -> Result<Scenario, LoadError> {
    let refuse = |message: String| LoadError {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message,
    };
    // A scenario is a small text file: anything else (a folder, a device
    // file, something huge) is refused before it is read.
    let meta = std::fs::metadata(file).map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(refuse("not a file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(refuse(format!(
            "{} bytes is more than a scenario may be ({MAX_FILE_BYTES})",
            meta.len()
        )));
    }
    let source = std::fs::read_to_string(file).map_err(|e| LoadError {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("cannot read it: {e}"),
    })?;
    parse(file, source)
}

/// Parses and checks a scenario's text (`file` names it in errors).
pub fn parse(file: &Path, source: String) -> Result<Scenario, LoadError> {
    let at = |offset: usize, message: String| {
        let (line, column) = position(&source, offset);
        LoadError {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let spec: ScenarioFile = toml::from_str(&source).map_err(|e| {
        at(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_string(),
        )
    })?;
    if spec.version != VERSION {
        return Err(at(
            0,
            format!(
                "version {} is not one this Hublet reads (expected version = {VERSION})",
                spec.version
            ),
        ));
    }
    if spec.name.trim().is_empty() {
        return Err(at(0, "name is empty (expected the scenario's name)".into()));
    }
    if spec.steps.is_empty() {
        return Err(at(
            0,
            "no steps (expected at least one [[steps]] table)".into(),
        ));
    }
    for (k, values) in &spec.matrix {
        if values.is_empty() {
            return Err(at(
                0,
                format!("matrix.{k} is empty (expected at least one value)"),
            ));
        }
    }
    let mut known: BTreeSet<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    known.extend(spec.vars.keys().cloned());
    known.extend(spec.matrix.keys().cloned());
    for (i, d) in spec.devices.iter().enumerate() {
        let mut used = Vec::new();
        names_in_value(&Value::String(d.id.clone()), &mut used);
        if let Some(n) = used.iter().find(|n| !known.contains(*n)) {
            return Err(at(
                0,
                format!(
                    "devices[{i}].id uses '{{{{{n}}}}}', which is not defined in [vars] or [matrix]"
                ),
            ));
        }
        if d.kind == crate::format::NeedKind::Simulated && d.profile.is_none() {
            return Err(at(
                0,
                format!(
                    "devices[{i}] ('{}') is simulated but names no profile (expected profile = \"thermostat\" or another)",
                    d.id
                ),
            ));
        }
    }
    let mut sent = false;
    for list in [&spec.setup, &spec.steps, &spec.teardown] {
        check_steps(list, &mut known, &mut sent).map_err(|(span, m)| at(span.start, m))?;
    }
    Ok(Scenario {
        file: file.to_path_buf(),
        source,
        spec,
    })
}

type Bad = (std::ops::Range<usize>, String);

fn check_steps(
    list: &[StepEntry],
    known: &mut BTreeSet<String>,
    sent: &mut bool,
) -> Result<(), Bad> {
    for e in list {
        let bad = |m: String| (e.span.clone(), format!("step `{}`: {m}", e.step.kind()));
        if let Step::Repeat(r) = &e.step {
            if r.times == 0 {
                return Err(bad("times is 0 (expected 1 or more)".into()));
            }
            if r.steps.is_empty() {
                return Err(bad("no steps to repeat".into()));
            }
            known.insert("iteration".into());
            let inner: Vec<StepEntry> = r.steps.iter().map(|n| n.at(e.span.clone())).collect();
            check_steps(&inner, known, sent)?;
            continue;
        }
        // Every `{{name}}` anywhere in the step must be defined by now.
        let as_json = serde_json::to_value(&e.step).map_err(|x| bad(x.to_string()))?;
        let mut used = Vec::new();
        names_in_value(&as_json, &mut used);
        if let Step::ExpectFeedback(f) = &e.step
            && f.message.is_none()
        {
            if !*sent {
                return Err(bad("no message was sent before it (expected a `send` step first, or message = \"ID\")".into()));
            }
            used.push("message_id".into());
        }
        if let Some(n) = used.iter().find(|n| !known.contains(*n)) {
            return Err(bad(format!(
                "'{{{{{n}}}}}' is not defined here (define it in [vars], [matrix], a `set` step or a `capture` before this step)"
            )));
        }
        e.step.check_values().map_err(bad)?;
        known.extend(e.step.defines());
        // A command may be a C2D message: which, the hub's library says.
        if matches!(e.step, Step::Send(_) | Step::Command(_)) {
            *sent = true;
        }
    }
    Ok(())
}

impl Step {
    /// The `do` value.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Send(_) => "send",
            Step::ExpectFeedback(_) => "expect_feedback",
            Step::ExpectQueue(_) => "expect_queue",
            Step::Purge(_) => "purge",
            Step::Invoke(_) => "invoke",
            Step::ExpectTelemetry(_) => "expect_telemetry",
            Step::UpdateDesired(_) => "update_desired",
            Step::ExpectReported(_) => "expect_reported",
            Step::SerialSend(_) => "serial_send",
            Step::ExpectLine(_) => "expect_line",
            Step::Fault(_) => "fault",
            Step::Wait(_) => "wait",
            Step::Set(_) => "set",
            Step::Repeat(_) => "repeat",
            Step::Command(_) => "command",
        }
    }

    /// The variables this step sets when it passes.
    pub fn defines(&self) -> Vec<String> {
        match self {
            Step::Send(_) => vec!["message_id".into()],
            Step::Invoke(s) => s
                .capture
                .keys()
                .cloned()
                .chain(["request_id".to_string()])
                .collect(),
            Step::ExpectTelemetry(s) => s.capture.keys().cloned().collect(),
            Step::ExpectReported(s) => s.capture.keys().cloned().collect(),
            Step::ExpectLine(s) => matcher::regex(&s.matches)
                .map(|r| r.capture_names().flatten().map(str::to_string).collect())
                .unwrap_or_default(),
            Step::Set(s) => s.vars.keys().cloned().collect(),
            // A command is a method call or a C2D message; which, the hub's
            // library says at run time.
            Step::Command(s) => s
                .capture
                .keys()
                .cloned()
                .chain(["request_id".to_string(), "message_id".to_string()])
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Checks option values that TOML's types cannot.
    fn check_values(&self) -> Result<(), String> {
        let one_of = |what: &str, v: &Option<String>, allowed: &[&str]| match v {
            Some(x) if !template::names_in(x).any(|_| true) && !allowed.contains(&x.as_str()) => {
                Err(format!("{what} '{x}' is not one of {}", allowed.join(", ")))
            }
            _ => Ok(()),
        };
        let captures = |c: &std::collections::BTreeMap<String, String>| {
            c.values().try_for_each(|p| matcher::path(p).map(|_| ()))
        };
        match self {
            Step::Send(s) => {
                one_of("ack", &s.ack, &["none", "positive", "negative", "full"])?;
                one_of(
                    "body_encoding",
                    &s.body_encoding,
                    &["text", "hex", "base64"],
                )?;
                if s.body_encoding.is_some() && !s.body.is_string() {
                    return Err("body_encoding needs a text body".into());
                }
            }
            Step::ExpectFeedback(s) => one_of(
                "status",
                &Some(s.status.clone()),
                &[
                    "Success",
                    "Expired",
                    "DeliveryCountExceeded",
                    "Rejected",
                    "Purged",
                ],
            )?,
            Step::ExpectQueue(s) => {
                if s.count.is_none() && s.enqueued.is_none() && s.locked.is_none() {
                    return Err("nothing to check (expected count, enqueued or locked)".into());
                }
            }
            Step::Invoke(s) => {
                if let Some(x) = &s.expect {
                    matcher::check_syntax(&x.matcher())?;
                }
                captures(&s.capture)?;
            }
            Step::ExpectTelemetry(s) => {
                matcher::check_syntax(&s.matcher())?;
                captures(&s.capture)?;
                if let (Some(min), Some(max)) = (s.count, s.at_most)
                    && min > max
                {
                    return Err(format!("count {min} is more than at_most {max}"));
                }
                if s.rate_min.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
                    return Err("rate_min must be a number of messages per second above 0".into());
                }
            }
            Step::ExpectReported(s) => {
                matcher::check_syntax(&s.matcher())?;
                captures(&s.capture)?;
            }
            Step::UpdateDesired(s) => {
                if !s.desired.is_object() {
                    return Err("desired must be a table of properties".into());
                }
            }
            Step::SerialSend(s) => {
                let given = [&s.text, &s.hex, &s.escaped]
                    .iter()
                    .filter(|x| x.is_some())
                    .count();
                if given != 1 {
                    return Err("expected exactly one of text, hex or escaped".into());
                }
            }
            Step::ExpectLine(s) => {
                matcher::regex(&s.matches)?;
            }
            Step::Fault(f) => {
                use crate::format::FaultKind::{CrashHub, RestartHub};
                let hub = matches!(f.fault, RestartHub | CrashHub);
                if !hub && f.device.trim().is_empty() {
                    return Err("this fault needs the device it happens to (device = \"…\")".into());
                }
            }
            Step::Command(s) => {
                if let Some(x) = &s.expect {
                    matcher::check_syntax(&x.matcher())?;
                }
                captures(&s.capture)?;
            }
            Step::Purge(_) | Step::Wait(_) | Step::Set(_) | Step::Repeat(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Scenario, LoadError> {
        parse(Path::new("t.toml"), s.to_string())
    }

    const HEAD: &str = "version = 1\nname = \"t\"\n";

    #[test]
    fn a_good_file_reads() {
        let s = parse_str(&format!(
            "{HEAD}[vars]\ndevice = \"thermostat-1\"\n[matrix]\nack = [\"full\", \"positive\"]\n\
             [[steps]]\ndo = \"send\"\ndevice = \"{{{{device}}}}\"\nbody = {{ setpoint = 21 }}\nack = \"{{{{ack}}}}\"\n\
             [[steps]]\ndo = \"expect_feedback\"\nstatus = \"Success\"\nwithin = \"5s\"\n\
             [[steps]]\ndo = \"invoke\"\ndevice = \"{{{{device}}}}\"\nmethod = \"getTemperature\"\n\
             expect = {{ status = 200, paths = [{{ path = \"$.temperature\", gt = 0 }}] }}\ncapture = {{ t = \"$.temperature\" }}\n\
             [[steps]]\ndo = \"set\"\nvars = {{ doubled = \"{{{{t}}}}{{{{t}}}}\" }}\n"
        ))
        .expect("reads");
        assert_eq!(s.spec.steps.len(), 4);
        assert_eq!(s.spec.steps[2].step.kind(), "invoke");
        // A step is located at its `[[steps]]` header.
        assert_eq!(s.position(s.spec.steps[1].span.start).0, 12);
    }

    #[test]
    fn unknown_keys_name_the_line_and_what_was_expected() {
        let e = parse_str(&format!(
            "{HEAD}\n[[steps]]\ndo = \"send\"\ndevice = \"d\"\nbdy = \"x\"\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.file.display().to_string()),
            (4, "t.toml".into()),
            "{e}"
        );
        assert!(e.message.contains("unknown field `bdy`"), "{e}");
        assert!(e.message.contains("expected one of"), "{e}");
        let e = parse_str(&format!("{HEAD}\n[[steps]]\ndo = \"sned\"\n")).unwrap_err();
        assert!(e.message.contains("unknown variant `sned`"), "{e}");
        let e = parse_str(&format!(
            "{HEAD}colour = 1\n[[steps]]\ndo = \"wait\"\ntime = 1\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (3, 1), "{e}");
    }

    #[test]
    fn bad_toml_and_versions() {
        let e = parse_str("version = 1\nname = = \"t\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8), "{e}");
        let e = parse_str("version = 2\nname = \"t\"\n[[steps]]\ndo = \"wait\"\ntime = 1\n")
            .unwrap_err();
        assert!(e.message.contains("expected version = 1"), "{e}");
        assert!(parse_str(HEAD).unwrap_err().message.contains("no steps"));
    }

    #[test]
    fn variables_must_be_defined_before_use() {
        let e = parse_str(&format!(
            "{HEAD}[[steps]]\ndo = \"wait\"\ntime = 1\n[[steps]]\ndo = \"purge\"\ndevice = \"{{{{who}}}}\"\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("'{{who}}' is not defined"), "{e}");
        let e = parse_str(&format!(
            "{HEAD}[[steps]]\ndo = \"expect_feedback\"\nstatus = \"Success\"\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("no message was sent"), "{e}");
        // A capture defines its variable for the steps after it.
        parse_str(&format!(
            "{HEAD}[[steps]]\ndo = \"expect_line\"\ndevice = \"b\"\nmatches = \"ip=(?P<ip>\\\\S+)\"\n\
             [[steps]]\ndo = \"serial_send\"\ndevice = \"b\"\ntext = \"ping {{{{ip}}}}\"\n"
        ))
        .expect("a named group is a variable");
    }

    #[test]
    fn repeat_takes_inline_steps_and_points_at_itself_for_their_errors() {
        let s = parse_str(&format!(
            "{HEAD}[[steps]]\ndo = \"repeat\"\ntimes = 2\nsteps = [{{ do = \"wait\", time = \"1ms\" }}, {{ do = \"set\", vars = {{ n = \"{{{{iteration}}}}\" }} }}]\n"
        ))
        .expect("reads");
        let Step::Repeat(r) = &s.spec.steps[0].step else {
            panic!("a repeat")
        };
        assert_eq!(r.steps.len(), 2);
        let e = parse_str(&format!(
            "{HEAD}[[steps]]\ndo = \"repeat\"\ntimes = 2\nsteps = [{{ do = \"wait\", tiem = 1 }}]\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("unknown field `tiem`"), "{e}");
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn option_values_are_checked() {
        for (body, want) in [
            (
                "do = \"send\"\ndevice = \"d\"\nack = \"always\"",
                "ack 'always' is not one of",
            ),
            ("do = \"expect_queue\"\ndevice = \"d\"", "nothing to check"),
            (
                "do = \"serial_send\"\ndevice = \"d\"\ntext = \"a\"\nhex = \"00\"",
                "exactly one of",
            ),
            (
                "do = \"expect_telemetry\"\ndevice = \"d\"\nmatches = \"(\"",
                "not a regular expression",
            ),
            (
                "do = \"invoke\"\ndevice = \"d\"\nmethod = \"m\"\ncapture = { x = \"temp\" }",
                "not a JSONPath",
            ),
            ("do = \"repeat\"\ntimes = 0\nsteps = []", "times is 0"),
            ("do = \"wait\"\ntime = \"soon\"", "not a duration"),
        ] {
            let e = parse_str(&format!("{HEAD}[[steps]]\n{body}\n")).unwrap_err();
            assert!(e.message.contains(want), "{body}: {e}");
            assert_eq!(e.line, 3, "{body}: {e}");
        }
    }
}
