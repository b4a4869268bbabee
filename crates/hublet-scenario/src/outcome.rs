//! What a run found: per case (one scenario and one matrix row) and per
//! step, in a shape for `--json`, JUnit and the hub's run records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// How a step or a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Verdict {
    /// Everything held.
    Passed,
    /// A check did not hold (the board misbehaved).
    Failed,
    /// The scenario could not be carried out (hub gone, device missing,
    /// a setup step failed): the board was not judged.
    Error,
    /// Not run (an earlier step failed).
    Skipped,
}

/// One step's result.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StepOutcome {
    /// Where it is: `setup[0]`, `steps[3]`, `steps[2].repeat[1][0]`.
    pub at: String,
    /// Its line in the file.
    pub line: usize,
    /// The `do` value.
    pub kind: String,
    /// Its label.
    pub label: String,
    /// How it ended.
    pub verdict: Verdict,
    /// How long it took, milliseconds.
    pub duration_ms: f64,
    /// What went wrong (failed or error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub message: Option<String>,
    /// What was expected (failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub expected: Option<String>,
    /// What was there (failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub actual: Option<String>,
    /// The trace key of what the step did (a message id, a method's
    /// request id): its story is `GET /api/trace/story/{key}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub story: Option<String>,
}

/// One case: a scenario with one row of its matrix.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CaseOutcome {
    /// `name [k=v, …]`.
    pub name: String,
    /// The scenario's name.
    pub scenario: String,
    /// Its file.
    pub file: String,
    /// The matrix row.
    #[ts(type = "Record<string, unknown>")]
    pub params: BTreeMap<String, Value>,
    /// The seed simulated devices it started were given.
    pub seed: u64,
    /// How it ended: the worst of its steps.
    pub verdict: Verdict,
    /// When it started (RFC 3339).
    pub started: String,
    /// Wall time, milliseconds.
    pub duration_ms: f64,
    /// Each step, in the order run (teardown included).
    pub steps: Vec<StepOutcome>,
    /// The hub's trace events during the case: ids after `traceFrom`, up
    /// to and including `traceTo`.
    pub trace_from: i64,
    /// See `traceFrom`.
    pub trace_to: i64,
    /// The failing step's story as text lines (for reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub story: Vec<String>,
    /// The devices its steps addressed, in the order they first did (what
    /// `hublet trace diff run:ID` keeps of the trace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub devices: Vec<String>,
    /// Its record in the hub (`GET /api/test-runs/{id}`), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub run_id: Option<i64>,
}

impl CaseOutcome {
    /// The first step that did not pass.
    pub fn failing_step(&self) -> Option<&StepOutcome> {
        self.steps
            .iter()
            .find(|s| matches!(s.verdict, Verdict::Failed | Verdict::Error))
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunOutcome {
    /// Every case.
    pub cases: Vec<CaseOutcome>,
    /// Passed cases.
    pub passed: usize,
    /// Failed cases.
    pub failed: usize,
    /// Cases that could not be carried out.
    pub errors: usize,
    /// Wall time, milliseconds.
    pub duration_ms: f64,
}

impl RunOutcome {
    /// Totals the cases.
    pub fn new(cases: Vec<CaseOutcome>, duration_ms: f64) -> RunOutcome {
        let count = |v| cases.iter().filter(|c| c.verdict == v).count();
        RunOutcome {
            passed: count(Verdict::Passed),
            failed: count(Verdict::Failed),
            errors: count(Verdict::Error),
            cases,
            duration_ms,
        }
    }

    /// Every case passed.
    pub fn ok(&self) -> bool {
        self.passed == self.cases.len()
    }
}
