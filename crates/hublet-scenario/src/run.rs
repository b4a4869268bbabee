//! Running scenarios: matrix rows into cases, each case's devices
//! prepared, then setup, steps and teardown in order against the hub's API.
//!
//! Steps wait by polling the API (every [`POLL`]) until their condition
//! holds or their window ends, so a passing step takes as long as the
//! device does, not a fixed sleep.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::wire::{Feedback, MethodResult, Queued, Sent};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::format::{DeviceNeed, Fault, FaultKind, NeedKind, Step, StepEntry};
use crate::hub::{HubApi, HubError, seg};
use crate::load::Scenario;
use crate::matcher::{self, Mismatch};
use crate::outcome::{CaseOutcome, RunOutcome, StepOutcome, Verdict};
use crate::template::{self, Vars};

/// How often a waiting step looks again.
pub const POLL: Duration = Duration::from_millis(100);
/// A step's time limit when neither it nor its scenario gives one.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a device need waits for the device to connect by default.
const ONLINE_WITHIN: Duration = Duration::from_secs(30);

/// One scenario with one row of its matrix.
#[derive(Debug, Clone)]
pub struct Case {
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// `name [k=v, …]`.
    pub name: String,
    /// The matrix row.
    pub params: BTreeMap<String, Value>,
}

/// Every case of these scenarios (each matrix row), keeping those whose
/// name contains `filter` (case-insensitive).
pub fn cases(scenarios: &[Arc<Scenario>], filter: Option<&str>) -> Vec<Case> {
    let mut out = Vec::new();
    for s in scenarios {
        let mut rows: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new()];
        for (k, values) in &s.spec.matrix {
            rows = rows
                .into_iter()
                .flat_map(|row| {
                    values.iter().map(move |v| {
                        let mut r = row.clone();
                        r.insert(k.clone(), v.clone());
                        r
                    })
                })
                .collect();
        }
        for params in rows {
            let name = if params.is_empty() {
                s.spec.name.clone()
            } else {
                let shown: Vec<String> = params
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(t) => format!("{k}={t}"),
                        other => format!("{k}={other}"),
                    })
                    .collect();
                format!("{} [{}]", s.spec.name, shown.join(", "))
            };
            if filter.is_none_or(|f| name.to_lowercase().contains(&f.to_lowercase())) {
                out.push(Case {
                    scenario: s.clone(),
                    name,
                    params,
                });
            }
        }
    }
    out
}

/// What a run reports while it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A case began.
    CaseStarted(&'a Case),
    /// A step ended.
    Step(&'a Case, &'a StepOutcome),
    /// A case ended.
    CaseDone(&'a CaseOutcome),
}

/// A progress listener.
pub type OnProgress = Arc<dyn Fn(Progress<'_>) + Send + Sync>;

/// A hub the runner may restart: one it started itself (`hublet test
/// --serve`). A hub the runner only talks to cannot be restarted by it.
pub trait HubControl: Send + Sync {
    /// Stops the hub (cleanly, or killed when `crash`) and starts it again
    /// on the same data directory and addresses.
    fn restart(
        &self,
        crash: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>>;
}

/// Runs cases against one hub.
#[derive(Clone)]
pub struct Runner {
    api: HubApi,
    seed: u64,
    on_progress: Option<OnProgress>,
    /// Record each case in the hub under this batch id (`/api/test-runs`).
    batch: Option<String>,
    /// The hub, when the runner started it (hub faults need it).
    control: Option<Arc<dyn HubControl>>,
}

/// Why a step did not pass.
#[derive(Debug)]
enum Stop {
    Failed {
        message: String,
        mismatch: Option<Mismatch>,
    },
    Error(String),
}

impl Stop {
    fn failed(message: impl Into<String>) -> Stop {
        Stop::Failed {
            message: message.into(),
            mismatch: None,
        }
    }
    fn mismatch(message: impl Into<String>, m: Mismatch) -> Stop {
        Stop::Failed {
            message: message.into(),
            mismatch: Some(m),
        }
    }
    fn expected(
        message: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Stop {
        Stop::mismatch(
            message,
            Mismatch {
                expected: expected.into(),
                actual: actual.into(),
            },
        )
    }
}

impl From<HubError> for Stop {
    fn from(e: HubError) -> Stop {
        Stop::Error(e.to_string())
    }
}

/// The state one case carries from step to step.
struct Ctx {
    vars: Vars,
    case_from: i64,
    /// The trace's newest event when the latest step that acts (not an
    /// `expect_*`) began: expectations look from there, so an answer that
    /// arrives before the check starts still counts.
    action_from: i64,
    default_timeout: Duration,
    story: Option<String>,
    /// Simulated devices this case started.
    started: Vec<String>,
    /// The case as recorded in the hub, without its steps (when recording).
    live: Option<CaseOutcome>,
    /// The devices addressed so far, in order.
    devices: Vec<String>,
}

impl Runner {
    /// A runner; `seed` goes to the simulated devices cases start.
    pub fn new(api: HubApi, seed: u64) -> Runner {
        Runner {
            api,
            seed,
            on_progress: None,
            batch: None,
            control: None,
        }
    }

    /// Lets `restart_hub` and `crash_hub` faults restart the hub.
    pub fn with_control(mut self, control: Arc<dyn HubControl>) -> Runner {
        self.control = Some(control);
        self
    }

    /// Records every case in the hub (`POST /api/test-runs`) under `batch`,
    /// as it runs: the record says `running` and grows step by step, so
    /// any client can follow it, and ends with the case's verdict.
    pub fn record_in(mut self, batch: impl Into<String>) -> Runner {
        self.batch = Some(batch.into());
        self
    }

    /// Creates the case's record; its id, when recording (a hub that
    /// cannot record does not stop the run).
    async fn record_start(&self, outcome: &CaseOutcome) -> Option<i64> {
        let batch = self.batch.as_ref()?;
        let body =
            json!({"batch": batch, "name": outcome.name, "verdict": "running", "record": outcome});
        let made: Value = self.api.post("/test-runs", &body).await.ok()?;
        made["id"].as_i64()
    }

    /// Replaces the case's record (`running` while it goes).
    async fn record_save(&self, outcome: &CaseOutcome, running: bool) {
        let Some(id) = outcome.run_id else { return };
        let verdict = if running {
            json!("running")
        } else {
            serde_json::to_value(outcome.verdict).unwrap_or_default()
        };
        let body = json!({"verdict": verdict, "record": outcome});
        let _ = self
            .api
            .put::<Value>(&format!("/test-runs/{id}"), &body)
            .await;
    }

    /// Saves a running case with the steps done so far.
    async fn record_progress(&self, ctx: &Ctx, steps: &[StepOutcome]) {
        if let Some(skeleton) = &ctx.live {
            let mut now = skeleton.clone();
            now.steps = steps.to_vec();
            self.record_save(&now, true).await;
        }
    }

    /// Calls `f` as the run goes.
    pub fn on_progress(mut self, f: OnProgress) -> Runner {
        self.on_progress = Some(f);
        self
    }

    fn report(&self, p: Progress<'_>) {
        if let Some(f) = &self.on_progress {
            f(p);
        }
    }

    /// Runs the cases, `jobs` at a time, and totals them (in the order given).
    pub async fn run(&self, cases: Vec<Case>, jobs: usize) -> RunOutcome {
        let started = Instant::now();
        let runs = cases.into_iter().map(|c| {
            let me = self.clone();
            async move { me.run_case(&c).await }
        });
        let done: Vec<CaseOutcome> = futures::stream::iter(runs)
            .buffered(jobs.max(1))
            .collect()
            .await;
        RunOutcome::new(done, started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Runs one case.
    pub async fn run_case(&self, case: &Case) -> CaseOutcome {
        self.report(Progress::CaseStarted(case));
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let started = Instant::now();
        let spec = &case.scenario.spec;
        let mut vars: Vars = spec.vars.clone();
        vars.extend(case.params.clone());
        vars.insert("scenario".into(), json!(spec.name));
        vars.insert("seed".into(), json!(self.seed));
        vars.insert("case".into(), json!(case.name));
        let mut outcome = CaseOutcome {
            name: case.name.clone(),
            scenario: spec.name.clone(),
            file: case.scenario.file.display().to_string(),
            params: case.params.clone(),
            seed: self.seed,
            verdict: Verdict::Passed,
            started: started_at,
            duration_ms: 0.0,
            steps: Vec::new(),
            trace_from: 0,
            trace_to: 0,
            story: Vec::new(),
            devices: Vec::new(),
            run_id: None,
        };
        outcome.run_id = self.record_start(&outcome).await;
        let from = match self.api.trace_watermark().await {
            Ok(id) => id,
            Err(e) => {
                outcome.verdict = Verdict::Error;
                outcome
                    .steps
                    .push(simple("hub", 0, "hub", Verdict::Error, Some(e.to_string())));
                return self.finish(case, outcome, started).await;
            }
        };
        outcome.trace_from = from;
        let mut ctx = Ctx {
            vars,
            case_from: from,
            action_from: from,
            default_timeout: spec.step_timeout.map_or(STEP_TIMEOUT, |d| d.0),
            story: None,
            started: Vec::new(),
            devices: Vec::new(),
            live: outcome.run_id.map(|_| CaseOutcome {
                trace_from: from,
                ..outcome.clone()
            }),
        };
        // Devices first: a missing one is an error of the set-up, not a failure of the board.
        for (i, need) in spec.devices.iter().enumerate() {
            let t = Instant::now();
            let r = self.prepare(need, &ctx.vars, &mut ctx.started).await;
            let mut s = simple(&format!("devices[{i}]"), 0, "device", Verdict::Passed, None);
            s.label = format!(
                "device {}",
                template::render(&need.id, &ctx.vars).unwrap_or_else(|_| need.id.clone())
            );
            s.duration_ms = ms(t);
            if let Ok(id) = template::render(&need.id, &ctx.vars)
                && !ctx.devices.contains(&id)
            {
                ctx.devices.push(id);
            }
            match r {
                Ok(()) => {}
                Err(e) => {
                    s.verdict = Verdict::Error;
                    s.message = Some(e);
                    outcome.verdict = Verdict::Error;
                }
            }
            self.report(Progress::Step(case, &s));
            outcome.steps.push(s);
            self.record_progress(&ctx, &outcome.steps).await;
            if outcome.verdict != Verdict::Passed {
                self.stop_started(&ctx).await;
                outcome.devices = ctx.devices.clone();
                return self.finish(case, outcome, started).await;
            }
        }
        let sc = &case.scenario;
        let setup_ok = self
            .run_list(
                case,
                sc,
                &spec.setup,
                "setup",
                &mut ctx,
                &mut outcome.steps,
                false,
            )
            .await;
        if !setup_ok {
            outcome.verdict = Verdict::Error;
        }
        let steps_ok = self
            .run_list(
                case,
                sc,
                &spec.steps,
                "steps",
                &mut ctx,
                &mut outcome.steps,
                !setup_ok,
            )
            .await;
        if setup_ok && !steps_ok {
            // A step that could not be carried out (the hub went away, a
            // fault this hub cannot take) is an error, not the board failing.
            outcome.verdict = match outcome.failing_step().map(|s| s.verdict) {
                Some(Verdict::Error) => Verdict::Error,
                _ => Verdict::Failed,
            };
        }
        let teardown_ok = self
            .run_list(
                case,
                sc,
                &spec.teardown,
                "teardown",
                &mut ctx,
                &mut outcome.steps,
                false,
            )
            .await;
        if !teardown_ok && outcome.verdict == Verdict::Passed {
            outcome.verdict = Verdict::Error;
        }
        self.stop_started(&ctx).await;
        outcome.devices = ctx.devices.clone();
        self.finish(case, outcome, started).await
    }

    /// Stops the simulated devices this case started, so the next case (or
    /// run) starts them fresh: their counters and random draws begin again.
    async fn stop_started(&self, ctx: &Ctx) {
        for id in &ctx.started {
            let _ = self.api.delete(&format!("/sim/devices/{}", seg(id))).await;
        }
    }

    async fn finish(
        &self,
        _case: &Case,
        mut outcome: CaseOutcome,
        started: Instant,
    ) -> CaseOutcome {
        outcome.trace_to = self
            .api
            .trace_watermark()
            .await
            .unwrap_or(outcome.trace_from);
        if let Some(step) = outcome.failing_step().cloned() {
            outcome.story = self.story(&step, outcome.trace_from).await;
        }
        outcome.duration_ms = ms(started);
        self.record_save(&outcome, false).await;
        self.report(Progress::CaseDone(&outcome));
        outcome
    }

    /// The failing step's story: its trace key's events, else the case's
    /// latest events (what the hub saw just before the failure).
    async fn story(&self, step: &StepOutcome, case_from: i64) -> Vec<String> {
        let events: Vec<Value> = match &step.story {
            Some(key) => self
                .api
                .get(&format!("/trace/story/{}", seg(key)), &[])
                .await
                .unwrap_or_default(),
            None => {
                let mut v: Vec<Value> = self
                    .api
                    .get(
                        "/trace",
                        &[
                            ("afterId", case_from.to_string()),
                            ("newestFirst", "true".into()),
                            ("limit", "30".into()),
                        ],
                    )
                    .await
                    .unwrap_or_default();
                v.reverse();
                v
            }
        };
        events.iter().map(story_line).collect()
    }

    /// Runs a list of steps; false when one did not pass. With `skip`, each
    /// is recorded as skipped.
    #[allow(clippy::too_many_arguments)]
    async fn run_list(
        &self,
        case: &Case,
        sc: &Scenario,
        list: &[StepEntry],
        at: &str,
        ctx: &mut Ctx,
        out: &mut Vec<StepOutcome>,
        mut skip: bool,
    ) -> bool {
        let mut ok = true;
        for (i, e) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let line = sc.position(e.span.start).0;
            if skip {
                let s = simple(&here, line, e.step.kind(), Verdict::Skipped, None);
                out.push(StepOutcome {
                    label: label(&e.step, &ctx.vars),
                    ..s
                });
                continue;
            }
            if let Step::Repeat(r) = &e.step {
                // An inner repeat has its own count; the outer one's comes back after it.
                let outer = ctx.vars.get("iteration").cloned();
                let inner_steps: Vec<StepEntry> =
                    r.steps.iter().map(|n| n.at(e.span.clone())).collect();
                for n in 1..=r.times {
                    ctx.vars.insert("iteration".into(), json!(n));
                    let inner = format!("{here}.repeat[{n}]");
                    if !Box::pin(self.run_list(case, sc, &inner_steps, &inner, ctx, out, false))
                        .await
                    {
                        ok = false;
                        skip = true;
                        break;
                    }
                }
                match outer {
                    Some(v) => ctx.vars.insert("iteration".into(), v),
                    None => ctx.vars.remove("iteration"),
                };
                continue;
            }
            let s = self.run_step(case, e, &here, line, ctx).await;
            if s.verdict != Verdict::Passed {
                ok = false;
                // Teardown goes on whatever happened: each of its steps
                // (a resume, a purge) matters on its own.
                skip = !at.starts_with("teardown");
            }
            out.push(s);
            self.record_progress(ctx, out).await;
        }
        ok
    }

    async fn run_step(
        &self,
        case: &Case,
        e: &StepEntry,
        at: &str,
        line: usize,
        ctx: &mut Ctx,
    ) -> StepOutcome {
        let t = Instant::now();
        let mut s = simple(at, line, e.step.kind(), Verdict::Passed, None);
        s.label = label(&e.step, &ctx.vars);
        ctx.story = None;
        let r = match self.api.trace_watermark().await {
            Err(e) => Err(Stop::from(e)),
            Ok(w) => {
                if !e.step.is_expectation() {
                    ctx.action_from = w;
                }
                match fill(&e.step, &ctx.vars) {
                    Err(m) => Err(Stop::Error(m)),
                    Ok(step) => {
                        if let Some(d) = serde_json::to_value(&step)
                            .ok()
                            .and_then(|v| v["device"].as_str().map(str::to_string))
                            && !d.is_empty()
                            && !ctx.devices.contains(&d)
                        {
                            ctx.devices.push(d);
                        }
                        // A step's own window (a long `within`, a 2-minute wait)
                        // is never cut short by the default limit.
                        let limit = timeout_of(&step).unwrap_or_else(|| {
                            ctx.default_timeout
                                .max(window_of(&step) + Duration::from_secs(10))
                        });
                        match tokio::time::timeout(limit, self.exec(&step, ctx)).await {
                            Ok(r) => r,
                            Err(_) => Err(Stop::failed(format!(
                                "the step took longer than its timeout ({})",
                                humantime::format_duration(limit)
                            ))),
                        }
                    }
                }
            }
        };
        s.story = ctx.story.take();
        match r {
            Ok(()) => {}
            Err(Stop::Error(m)) => {
                s.verdict = Verdict::Error;
                s.message = Some(m);
            }
            Err(Stop::Failed { message, mismatch }) => {
                s.verdict = Verdict::Failed;
                s.message = Some(message);
                if let Some(m) = mismatch {
                    s.expected = Some(m.expected);
                    s.actual = Some(m.actual);
                }
            }
        }
        s.duration_ms = ms(t);
        self.report(Progress::Step(case, &s));
        s
    }

    /// Checks a device need; starts a simulated device that is not
    /// running and adds its id to `started` at once (the case stops it when
    /// it ends, even if it then does not come online).
    async fn prepare(
        &self,
        need: &DeviceNeed,
        vars: &Vars,
        started: &mut Vec<String>,
    ) -> Result<(), String> {
        let id = template::render(&need.id, vars)?;
        let device = match self
            .api
            .get::<Value>(&format!("/devices/{}", seg(&id)), &[])
            .await
        {
            Ok(d) => Some(d),
            Err(HubError::Refused { status: 404, .. }) => None,
            Err(e) => return Err(e.to_string()),
        };
        match need.kind {
            NeedKind::Registered if device.is_none() => {
                return Err(format!(
                    "the scenario needs device '{id}', which is not registered"
                ));
            }
            NeedKind::Serial => {
                // With `online`, a board being bound (a hub starting up)
                // has its window to appear.
                let within = if need.online {
                    need.within.map_or(ONLINE_WITHIN, |d| d.0)
                } else {
                    Duration::ZERO
                };
                let path = format!("/serial/boards/{}", seg(&id));
                let deadline = Instant::now() + within;
                loop {
                    match self.api.get::<Value>(&path, &[]).await {
                        Ok(_) => break,
                        Err(e) if Instant::now() >= deadline => {
                            return Err(format!("the scenario needs serial board '{id}': {e}"));
                        }
                        Err(_) => tokio::time::sleep(POLL).await,
                    }
                }
            }
            NeedKind::Simulated => {
                let running: Vec<Value> = self
                    .api
                    .get("/sim/devices", &[])
                    .await
                    .map_err(|e| e.to_string())?;
                if !running.iter().any(|d| d["deviceId"] == json!(id)) {
                    started.push(id.clone());
                    let profile = need.profile.clone().unwrap_or_default();
                    self.api
                        .post::<Value>(
                            "/sim/fleets",
                            // Persisted, so that a hub restart (a `restart_hub`
                            // fault) brings it back; stopping it at the end of
                            // the case forgets it again.
                            &json!({"profile": profile, "ids": [id], "seed": self.seed, "persist": true}),
                        )
                        .await
                        .map_err(|e| format!("could not start simulated device '{id}' ({profile}): {e}"))?;
                }
            }
            NeedKind::Registered => {}
        }
        if need.online {
            let within = need.within.map_or(ONLINE_WITHIN, |d| d.0);
            let path = format!("/devices/{}", seg(&id));
            let found = poll(within, || async {
                let d: Value = self.api.get(&path, &[]).await?;
                Ok((d["connectionState"] == json!("Connected")).then_some(()))
            })
            .await
            .map_err(|e| match e {
                Stop::Error(m) | Stop::Failed { message: m, .. } => m,
            })?;
            if found.is_none() {
                return Err(format!(
                    "device '{id}' did not connect within {}",
                    humantime::format_duration(within)
                ));
            }
        }
        Ok(())
    }

    async fn exec(&self, step: &Step, ctx: &mut Ctx) -> Result<(), Stop> {
        let api = &self.api;
        match step {
            Step::Send(s) => {
                let req = s.request_json();
                let r = api
                    .post::<Sent>(&format!("/devices/{}/messages", seg(&s.device)), &req)
                    .await;
                match (r, s.expect_error) {
                    (Ok(m), None) => {
                        ctx.vars.insert("message_id".into(), json!(m.message_id));
                        ctx.story = Some(m.message_id);
                        Ok(())
                    }
                    (Ok(m), Some(code)) => {
                        ctx.story = Some(m.message_id.clone());
                        Err(Stop::expected(
                            "the hub accepted the message",
                            format!("error {code}"),
                            format!("accepted as '{}'", m.message_id),
                        ))
                    }
                    (Err(HubError::Refused { code: Some(c), .. }), Some(want)) if c == want => {
                        Ok(())
                    }
                    (
                        Err(HubError::Refused {
                            code,
                            name,
                            message,
                            ..
                        }),
                        Some(want),
                    ) => Err(Stop::expected(
                        "the hub refused the message differently",
                        format!("error {want}"),
                        format!(
                            "{} {name}: {message}",
                            code.map(|c| c.to_string()).unwrap_or_default()
                        ),
                    )),
                    (
                        Err(HubError::Refused {
                            code,
                            name,
                            message,
                            ..
                        }),
                        None,
                    ) => Err(Stop::expected(
                        "the hub refused the message",
                        "accepted",
                        format!(
                            "{} {name}: {message}",
                            code.map(|c| c.to_string()).unwrap_or_default()
                        ),
                    )),
                    (Err(e), _) => Err(e.into()),
                }
            }
            Step::ExpectFeedback(s) => {
                let id = match &s.message {
                    Some(m) => m.clone(),
                    None => ctx
                        .vars
                        .get("message_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            Stop::Error("no message was sent before this step (the command before it was a method call?)".into())
                        })?,
                };
                ctx.story = Some(id.clone());
                let within = s.within.map_or(Duration::from_secs(10), |d| d.0);
                let q = [("messageId", id.clone())];
                let got = poll(within, || async {
                    let r: Vec<Feedback> = api.get("/feedback", &q).await?;
                    Ok(r.into_iter().next())
                })
                .await?;
                match got {
                    None => Err(Stop::expected(
                        format!(
                            "no feedback for message '{id}' within {}",
                            humantime::format_duration(within)
                        ),
                        format!("feedback {}", s.status),
                        "no feedback",
                    )),
                    Some(r) => {
                        if r.status_code == s.status {
                            Ok(())
                        } else {
                            Err(Stop::expected(
                                format!("message '{id}' ended otherwise ({})", r.description),
                                format!("feedback {}", s.status),
                                format!("feedback {}", r.status_code),
                            ))
                        }
                    }
                }
            }
            Step::ExpectQueue(s) => {
                let path = format!("/devices/{}/messages", seg(&s.device));
                let deadline = Instant::now() + s.within.map_or(Duration::ZERO, |d| d.0);
                let want = [s.count, s.enqueued, s.locked];
                loop {
                    let q: Vec<Queued> = api.get(&path, &[]).await?;
                    let enqueued = q.iter().filter(|m| m.state == "Enqueued").count() as u32;
                    let got = [q.len() as u32, enqueued, q.len() as u32 - enqueued];
                    if want.iter().zip(got).all(|(w, g)| w.is_none_or(|w| w == g)) {
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        let show = |vals: [Option<u32>; 3]| {
                            ["count", "enqueued", "locked"]
                                .iter()
                                .zip(vals)
                                .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        let shown_got = [0, 1, 2].map(|i| want[i].map(|_| got[i]));
                        return Err(Stop::expected(
                            format!("queue of '{}'", s.device),
                            show(want),
                            show(shown_got),
                        ));
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            Step::Purge(s) => {
                api.delete(&format!("/devices/{}/messages", seg(&s.device)))
                    .await?;
                Ok(())
            }
            Step::Invoke(s) => {
                let path = match &s.module {
                    None => format!("/devices/{}/methods", seg(&s.device)),
                    Some(m) => format!("/devices/{}/modules/{}/methods", seg(&s.device), seg(m)),
                };
                let req = json!({
                    "methodName": s.method,
                    "payload": s.payload,
                    "connectTimeoutInSeconds": s.connect_timeout,
                    "responseTimeoutInSeconds": s.response_timeout,
                });
                let t = Instant::now();
                let (status, payload, latency) = match api.post::<MethodResult>(&path, &req).await {
                    Ok(r) => {
                        ctx.vars.insert("request_id".into(), json!(r.request_id));
                        ctx.story = Some(r.request_id);
                        (r.status, r.payload, r.latency_ms)
                    }
                    Err(HubError::Refused {
                        code: Some(c),
                        name,
                        message,
                        ..
                    }) => (
                        i64::from(c),
                        json!({"errorCode": c, "name": name, "message": message}),
                        ms(t),
                    ),
                    Err(e) => return Err(e.into()),
                };
                let x = s.expect.clone().unwrap_or_default();
                match x.status {
                    Some(w) if w != status => {
                        return Err(Stop::expected(
                            format!("{} answered {status}", s.method),
                            format!("status {w}"),
                            format!("status {status}: {}", matcher::short(&payload.to_string())),
                        ));
                    }
                    None if !(200..300).contains(&status) => {
                        return Err(Stop::expected(
                            format!("{} answered {status}", s.method),
                            "a 2xx status",
                            format!("status {status}: {}", matcher::short(&payload.to_string())),
                        ));
                    }
                    _ => {}
                }
                if let Some(below) = x.latency_below
                    && latency >= below.0.as_secs_f64() * 1000.0
                {
                    return Err(Stop::expected(
                        format!("{} answered too slowly", s.method),
                        format!("latency below {}", humantime::format_duration(below.0)),
                        format!("{latency:.1} ms"),
                    ));
                }
                matcher::check(&x.matcher(), &payload)
                    .map_err(|m| Stop::mismatch(format!("{}'s payload", s.method), m))?;
                capture(&s.capture, &payload, &mut ctx.vars)
            }
            Step::ExpectTelemetry(s) => {
                let from = if s.since_start {
                    ctx.case_from
                } else {
                    ctx.action_from
                };
                let within = s.within.map_or(Duration::from_secs(30), |d| d.0);
                let min = s.count.unwrap_or(1);
                let m = s.matcher();
                let deadline = Instant::now() + within;
                let (mut cursor, mut matched, mut seen) = (from, 0u32, 0u32);
                let mut first: Option<Value> = None;
                let mut last_miss: Option<Mismatch> = None;
                loop {
                    let events = api
                        .trace_after(&s.device, "telemetry.received", cursor)
                        .await?;
                    for e in &events {
                        cursor = cursor.max(e["id"].as_i64().unwrap_or(cursor));
                        seen += 1;
                        let body = body_json(&e["detail"]["body"]);
                        let props_ok = s.properties.iter().all(|(k, want)| {
                            match e["detail"]["properties"].get(k) {
                                Some(v) => want == "*" || v.as_str() == Some(want.as_str()),
                                None => false,
                            }
                        });
                        if !props_ok {
                            last_miss = Some(Mismatch {
                                expected: format!("properties {:?}", s.properties),
                                actual: e["detail"]["properties"].to_string(),
                            });
                            continue;
                        }
                        match matcher::check(&m, &body) {
                            Ok(()) => {
                                matched += 1;
                                first.get_or_insert(body);
                            }
                            Err(mut x) => {
                                if e["detail"]["body"]["truncated"] == json!(true) {
                                    x.actual.push_str(" (the trace keeps only the start of this body: it was cut)");
                                }
                                last_miss = Some(x)
                            }
                        }
                    }
                    if s.at_most.is_none() && s.rate_min.is_none() && matched >= min {
                        break;
                    }
                    if Instant::now() >= deadline {
                        break;
                    }
                    tokio::time::sleep(POLL).await;
                }
                let rate = f64::from(matched) / within.as_secs_f64().max(0.001);
                let enough = matched >= min && s.rate_min.is_none_or(|r| rate >= r);
                let not_too_many = s.at_most.is_none_or(|max| matched <= max);
                if enough && not_too_many {
                    if let Some(b) = &first {
                        capture(&s.capture, b, &mut ctx.vars)?;
                    }
                    return Ok(());
                }
                let want = match s.at_most {
                    _ if s.rate_min.is_some() => format!(
                        "at least {} matching messages a second",
                        s.rate_min.unwrap_or_default()
                    ),
                    Some(max) if s.count.is_some() => format!("{min} to {max} matching messages"),
                    Some(max) => format!("at most {max} matching messages"),
                    None => format!(
                        "at least {min} matching message{}",
                        if min == 1 { "" } else { "s" }
                    ),
                };
                let mut got = format!(
                    "{matched} of {seen} received in {}",
                    humantime::format_duration(within)
                );
                if let Some(x) = last_miss.filter(|_| !enough) {
                    got.push_str(&format!("; the last that did not match: {x}"));
                }
                Err(Stop::expected(
                    format!("telemetry from '{}'", s.device),
                    want,
                    got,
                ))
            }
            Step::UpdateDesired(s) => {
                let path = twin_path(&s.device, s.module.as_deref());
                api.patch::<Value>(&path, &json!({"properties": {"desired": s.desired}}))
                    .await?;
                Ok(())
            }
            Step::ExpectReported(s) => {
                let path = twin_path(&s.device, s.module.as_deref());
                let within = s.within.map_or(Duration::from_secs(10), |d| d.0);
                let m = s.matcher();
                let deadline = Instant::now() + within;
                loop {
                    let twin: Value = api.get(&path, &[]).await?;
                    let reported = twin["properties"]["reported"].clone();
                    match matcher::check(&m, &reported) {
                        Ok(()) => return capture(&s.capture, &reported, &mut ctx.vars),
                        Err(x) if Instant::now() >= deadline => {
                            return Err(Stop::mismatch(
                                format!("reported properties of '{}'", s.device),
                                x,
                            ));
                        }
                        Err(_) => tokio::time::sleep(POLL).await,
                    }
                }
            }
            Step::SerialSend(s) => {
                api.post::<Value>(
                    &format!("/serial/boards/{}/send", seg(&s.device)),
                    &json!({"text": s.text, "hex": s.hex, "escaped": s.escaped}),
                )
                .await?;
                Ok(())
            }
            Step::ExpectLine(s) => {
                let re = matcher::regex(&s.matches).map_err(Stop::Error)?;
                let from = if s.since_start {
                    ctx.case_from
                } else {
                    ctx.action_from
                };
                let within = s.within.map_or(Duration::from_secs(10), |d| d.0);
                let deadline = Instant::now() + within;
                let (mut cursor, mut last) = (from, None::<String>);
                loop {
                    for e in api.trace_after(&s.device, "serial.line", cursor).await? {
                        cursor = cursor.max(e["id"].as_i64().unwrap_or(cursor));
                        let text = e["detail"]["text"].as_str().unwrap_or_default().to_string();
                        if let Some(c) = re.captures(&text) {
                            for name in re.capture_names().flatten() {
                                if let Some(v) = c.name(name) {
                                    ctx.vars.insert(name.to_string(), json!(v.as_str()));
                                }
                            }
                            return Ok(());
                        }
                        last = Some(text);
                    }
                    if Instant::now() >= deadline {
                        return Err(Stop::expected(
                            format!(
                                "no line from '{}' matched within {}",
                                s.device,
                                humantime::format_duration(within)
                            ),
                            format!("a line matching /{}/", s.matches),
                            last.map_or("no lines".to_string(), |l| {
                                format!("last line: {}", matcher::short(&l))
                            }),
                        ));
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            Step::Fault(f) => self.fault(f).await,
            Step::Wait(w) => {
                tokio::time::sleep(w.time.0).await;
                Ok(())
            }
            Step::Set(s) => {
                for (k, v) in &s.vars {
                    ctx.vars.insert(k.clone(), v.clone());
                }
                Ok(())
            }
            Step::Repeat(_) => Ok(()),
            Step::Command(c) => {
                let library: Vec<crate::library::Command> = api.get("/commands", &[]).await?;
                let command = library
                    .iter()
                    .find(|x| x.name == c.command)
                    .ok_or_else(|| {
                        Stop::Error(format!(
                            "no command '{}' in the hub's library (hublet commands list)",
                            c.command
                        ))
                    })?;
                let step = command
                    .to_step(&c.device, &c.vars)
                    .map_err(|e| Stop::Error(e.0))?;
                let step = match step {
                    Step::Invoke(mut i) => {
                        i.expect = c.expect.clone();
                        i.capture = c.capture.clone();
                        Step::Invoke(i)
                    }
                    other => other,
                };
                Box::pin(self.exec(&step, ctx)).await
            }
        }
    }

    async fn fault(&self, f: &Fault) -> Result<(), Stop> {
        let id = seg(&f.device);
        match f.fault {
            FaultKind::RestartHub | FaultKind::CrashHub => {
                let control = self.control.as_ref().ok_or_else(|| {
                    Stop::Error(
                        "restarting the hub needs a hub this run started: hublet test --serve"
                            .into(),
                    )
                })?;
                control
                    .restart(f.fault == FaultKind::CrashHub)
                    .await
                    .map_err(Stop::Error)?;
                let up = poll(Duration::from_secs(30), || async {
                    Ok(self.api.trace_watermark().await.ok().map(|_| ()))
                })
                .await?;
                if up.is_none() {
                    return Err(Stop::Error(
                        "the hub did not answer within 30 s of its restart".into(),
                    ));
                }
            }
            FaultKind::Unplug => {
                self.api
                    .post::<Value>(&format!("/serial/boards/{id}/release"), &json!({}))
                    .await?;
            }
            FaultKind::Replug => {
                self.api
                    .post::<Value>(&format!("/serial/boards/{id}/reclaim"), &json!({}))
                    .await?;
            }
            kind => {
                self.api
                    .post::<Value>(
                        &format!("/sim/devices/{id}/fault"),
                        &json!({"fault": kind, "forSecs": f.for_time.map(|d| d.0.as_secs_f64())}),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

impl crate::format::Send {
    /// The body of `POST /api/devices/{id}/messages` for this message: a
    /// text body as it is (with its encoding), a table or array as JSON
    /// (content type `application/json` unless one is given).
    pub fn request_json(&self) -> Value {
        let (body, encoding, default_type) = match &self.body {
            Value::String(t) => (
                t.clone(),
                self.body_encoding.clone().unwrap_or_else(|| "text".into()),
                None,
            ),
            Value::Null => (String::new(), "text".into(), None),
            other => (
                other.to_string(),
                "text".into(),
                Some("application/json".to_string()),
            ),
        };
        json!({
            "body": body,
            "bodyEncoding": encoding,
            "messageId": self.message_id,
            "correlationId": self.correlation_id,
            "userId": self.user_id,
            "contentType": self.content_type.clone().or(default_type),
            "contentEncoding": self.content_encoding,
            "ttlSeconds": self.ttl.map(|d| d.0.as_secs().max(1)),
            "expiryTimeUtc": self.expiry,
            "ack": self.ack,
            "properties": self.properties,
        })
    }
}

impl Step {
    /// Only looks (an `expect_*` step, or a pause).
    fn is_expectation(&self) -> bool {
        matches!(
            self,
            Step::ExpectFeedback(_)
                | Step::ExpectQueue(_)
                | Step::ExpectTelemetry(_)
                | Step::ExpectReported(_)
                | Step::ExpectLine(_)
                | Step::Wait(_)
                | Step::Set(_)
        )
    }
}

/// Looks every [`POLL`] until `f` finds something or `within` has passed
/// (always at least once).
async fn poll<T, F, Fut>(within: Duration, mut f: F) -> Result<Option<T>, Stop>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, Stop>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await? {
            return Ok(Some(v));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn twin_path(device: &str, module: Option<&str>) -> String {
    match module {
        None => format!("/devices/{}/twin", seg(device)),
        Some(m) => format!("/devices/{}/modules/{}/twin", seg(device), seg(m)),
    }
}

/// A trace body preview as JSON: parsed when its text is JSON, else the text.
fn body_json(preview: &Value) -> Value {
    match preview["text"].as_str() {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
        None => preview["base64"].clone(),
    }
}

fn capture(spec: &BTreeMap<String, String>, doc: &Value, vars: &mut Vars) -> Result<(), Stop> {
    for (name, path) in spec {
        match matcher::select(doc, path).map_err(Stop::Error)? {
            Some(v) => {
                vars.insert(name.clone(), v);
            }
            None => {
                return Err(Stop::expected(
                    format!("nothing to capture as '{name}'"),
                    format!("a value at {path}"),
                    matcher::short(&doc.to_string()),
                ));
            }
        }
    }
    Ok(())
}

/// The step with its variables filled in (every text field, every JSON value).
fn fill(step: &Step, vars: &Vars) -> Result<Step, String> {
    let v = serde_json::to_value(step).map_err(|e| e.to_string())?;
    let filled = template::render_fields(
        &v,
        vars,
        &["body", "payload", "desired", "eq", "ne", "vars"],
    )?;
    serde_json::from_value(filled).map_err(|e| format!("after filling in variables: {e}"))
}

/// How long a step may legitimately wait by its own fields.
fn window_of(step: &Step) -> Duration {
    let secs = |s: Option<u64>| Duration::from_secs(s.unwrap_or(0));
    let d = |x: Option<crate::duration::Dur>| x.map_or(Duration::ZERO, |d| d.0);
    match step {
        Step::ExpectFeedback(s) => d(s.within),
        Step::ExpectQueue(s) => d(s.within),
        Step::ExpectTelemetry(s) => d(s.within),
        Step::ExpectReported(s) => d(s.within),
        Step::ExpectLine(s) => d(s.within),
        Step::Wait(s) => s.time.0,
        Step::Invoke(s) => secs(s.connect_timeout) + secs(s.response_timeout.or(Some(30))),
        _ => Duration::ZERO,
    }
}

fn timeout_of(step: &Step) -> Option<Duration> {
    let t = match step {
        Step::Send(s) => s.timeout,
        Step::ExpectFeedback(s) => s.timeout,
        Step::ExpectQueue(s) => s.timeout,
        Step::Purge(s) => s.timeout,
        Step::Invoke(s) => s.timeout,
        Step::ExpectTelemetry(s) => s.timeout,
        Step::UpdateDesired(s) => s.timeout,
        Step::ExpectReported(s) => s.timeout,
        Step::SerialSend(s) => s.timeout,
        Step::ExpectLine(s) => s.timeout,
        Step::Fault(s) => s.timeout,
        Step::Wait(s) => s.timeout,
        Step::Set(s) => s.timeout,
        Step::Repeat(s) => s.timeout,
        Step::Command(s) => s.timeout,
    };
    t.map(|d| d.0)
}

/// The step's label: its own name, else its kind and target.
fn label(step: &Step, vars: &Vars) -> String {
    let (name, target) = match step {
        Step::Send(s) => (&s.name, format!("send to {}", s.device)),
        Step::ExpectFeedback(s) => (&s.name, format!("expect feedback {}", s.status)),
        Step::ExpectQueue(s) => (&s.name, format!("expect queue of {}", s.device)),
        Step::Purge(s) => (&s.name, format!("purge {}", s.device)),
        Step::Invoke(s) => (&s.name, format!("invoke {} on {}", s.method, s.device)),
        Step::ExpectTelemetry(s) => (&s.name, format!("expect telemetry from {}", s.device)),
        Step::UpdateDesired(s) => (&s.name, format!("update desired of {}", s.device)),
        Step::ExpectReported(s) => (&s.name, format!("expect reported of {}", s.device)),
        Step::SerialSend(s) => (&s.name, format!("serial send to {}", s.device)),
        Step::ExpectLine(s) => (
            &s.name,
            format!("expect line /{}/ from {}", s.matches, s.device),
        ),
        Step::Fault(s) if s.device.is_empty() => {
            let kind = serde_json::to_value(s.fault).unwrap_or_default();
            (
                &s.name,
                format!("fault {}", kind.as_str().unwrap_or_default()),
            )
        }
        Step::Fault(s) => {
            let kind = serde_json::to_value(s.fault).unwrap_or_default();
            (
                &s.name,
                format!(
                    "fault {} on {}",
                    kind.as_str().unwrap_or_default(),
                    s.device
                ),
            )
        }
        Step::Wait(s) => (
            &s.name,
            format!("wait {}", humantime::format_duration(s.time.0)),
        ),
        Step::Set(s) => (
            &s.name,
            format!(
                "set {}",
                s.vars.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Step::Repeat(s) => (&s.name, format!("repeat {} times", s.times)),
        Step::Command(s) => (&s.name, format!("command {} on {}", s.command, s.device)),
    };
    let text = name.clone().unwrap_or(target);
    template::render(&text, vars).unwrap_or(text)
}

fn simple(
    at: &str,
    line: usize,
    kind: &str,
    verdict: Verdict,
    message: Option<String>,
) -> StepOutcome {
    StepOutcome {
        at: at.to_string(),
        line,
        kind: kind.to_string(),
        label: kind.to_string(),
        verdict,
        duration_ms: 0.0,
        message,
        expected: None,
        actual: None,
        story: None,
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// One trace event as a line of a report.
fn story_line(e: &Value) -> String {
    let mut detail = e["detail"].to_string();
    if detail.len() > 200 {
        detail = matcher::short(&detail);
    }
    format!(
        "{} #{} {} {} {}",
        e["ts"].as_str().unwrap_or_default(),
        e["id"],
        e["kind"].as_str().unwrap_or_default(),
        e["deviceId"].as_str().unwrap_or("-"),
        detail
    )
}
