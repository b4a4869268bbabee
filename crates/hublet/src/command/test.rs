//! `hublet test`: QA scenarios against the hub, with a JUnit report.
//!
//! Every file is read and checked first (a bad file stops the run before
//! anything happens to a device); then the cases run against the hub the
//! other commands use (`--hub`, or the data directory's). On a terminal
//! each step prints as it ends; otherwise one line per case, the failures
//! and the totals, which is what a CI log wants.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use hublet_scenario::{CaseOutcome, Progress, RunOutcome, Runner, Verdict};

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Scenario files, or folders (every `.toml` file in them, sorted).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Only the cases whose name contains TEXT (case-insensitive; a case is
    /// a scenario with one row of its matrix: `name [k=v]`).
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Seed for the simulated devices scenarios start (default: random;
    /// reports show it, so a run can be repeated).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Cases run at the same time (give them different devices).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Check the files and list their cases; run nothing.
    #[arg(long)]
    pub list: bool,
    /// Set a variable declared in a scenario's [vars] (repeatable; the value
    /// is read as JSON when it parses, e.g. 21 or true, else as text).
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Start a hub for this run (`hublet serve` on the data directory, or on
    /// a new temporary one, every listener on a free loopback port) and stop
    /// it at the end; scenarios may then restart it (`restart_hub`, `crash_hub`).
    #[arg(long, conflicts_with = "hub")]
    pub serve: bool,
    /// With --serve: the hub runs the demo fleet and board.
    #[arg(long, requires = "serve")]
    pub demo: bool,
    /// Do not record the cases in the hub (`hublet runs` lists them otherwise).
    #[arg(long)]
    pub no_record: bool,
}

/// The scenario files named by the paths.
fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(ClientError::Exit(
                    codes::BAD_INPUT,
                    format!("{}: no .toml scenario files in this folder", p.display()),
                )
                .into());
            }
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(ClientError::Exit(
                codes::BAD_INPUT,
                format!("{}: no such file or folder", p.display()),
            )
            .into());
        }
    }
    Ok(out)
}

pub async fn run(g: &Global, a: TestArgs) -> anyhow::Result<()> {
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for f in files(&a.paths)? {
        match hublet_scenario::load(&f) {
            Ok(s) => scenarios.push(Arc::new(s)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        return Err(ClientError::Exit(codes::BAD_INPUT, problems.join("\n")).into());
    }
    for kv in &a.vars {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            ClientError::Exit(codes::BAD_INPUT, format!("--var '{kv}' is not K=V"))
        })?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::json!(v));
        let mut used = false;
        for s in &mut scenarios {
            if let Some(spec) = Arc::get_mut(s).map(|s| &mut s.spec)
                && let Some(slot) = spec.vars.get_mut(k)
            {
                *slot = value.clone();
                used = true;
            }
        }
        if !used {
            return Err(ClientError::Exit(
                codes::BAD_INPUT,
                format!("--var {k}: no scenario declares '{k}' in its [vars]"),
            )
            .into());
        }
    }
    let cases = hublet_scenario::cases(&scenarios, a.filter.as_deref());
    if cases.is_empty() {
        return Err(ClientError::Exit(codes::BAD_INPUT, "no case matches --filter".into()).into());
    }
    if a.list {
        if g.json {
            let list: Vec<_> = cases
                .iter()
                .map(|c| serde_json::json!({"name": c.name, "file": c.scenario.file, "params": c.params}))
                .collect();
            crate::output::json(&list);
        } else {
            for c in &cases {
                println!("{}  ({})", c.name, c.scenario.file.display());
            }
        }
        return Ok(());
    }
    // 53 bits: a seed shown in the app (a JavaScript number) must be exact.
    let seed = a.seed.unwrap_or_else(|| rand::random::<u64>() >> 11);
    // With --serve, this run's own hub, on the data directory given or on
    // a new temporary one (removed afterwards).
    let temp = (a.serve && g.data_dir.is_none()).then(|| {
        std::env::temp_dir().join(format!(
            "hublet-test-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ))
    });
    let owned = if a.serve {
        let dir = temp.clone().unwrap_or_else(|| g.data_dir());
        std::fs::create_dir_all(&dir)?;
        if hublet_server::hubfile::read(&dir).is_some_and(|f| {
            f.pid != 0 && std::path::Path::new(&format!("/proc/{}", f.pid)).exists()
        }) {
            return Err(ClientError::Exit(
                codes::CONFLICT,
                format!(
                    "a hub already runs on {} (leave out --serve to test against it)",
                    dir.display()
                ),
            )
            .into());
        }
        let hub = super::owned_hub::OwnedHub::start(&dir, a.demo)
            .map_err(|e| ClientError::NoHub(format!("--serve: {e}")))?;
        Some((Arc::new(hub), dir))
    } else {
        None
    };
    let own_global;
    let g = match &owned {
        Some((_, dir)) => {
            own_global = Global {
                data_dir: Some(dir.clone()),
                hub: None,
                token: None,
                json: g.json,
            };
            &own_global
        }
        None => g,
    };
    let client = Client::connect(g)?;
    let live = !g.json && std::io::stdout().is_terminal();
    let quiet = g.json;
    let batch = format!(
        "cli-{}-{:08x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default(),
        rand::random::<u32>()
    );
    let mut runner = Runner::new(client.scenario_api(), seed);
    if !a.no_record {
        runner = runner.record_in(batch.clone());
    }
    if let Some((hub, _)) = &owned {
        runner = runner.with_control(hub.clone());
    }
    let runner = runner.on_progress(Arc::new(move |p| {
        if quiet {
            return;
        }
        match p {
            Progress::CaseStarted(c) if live => println!("▶ {}", c.name),
            Progress::Step(_, s) if live => println!(
                "  {} {} ({:.0} ms){}",
                mark(s.verdict),
                s.label,
                s.duration_ms,
                s.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            Progress::CaseDone(c) => case_line(c, live),
            _ => {}
        }
    }));
    if !quiet {
        println!(
            "running {} case{} from {} file{} (seed {seed}{})",
            cases.len(),
            if cases.len() == 1 { "" } else { "s" },
            scenarios.len(),
            if scenarios.len() == 1 { "" } else { "s" },
            if a.no_record {
                String::new()
            } else {
                format!(", recorded as batch {batch}")
            }
        );
    }
    let outcome = runner.run(cases, a.jobs).await;
    if let Some((hub, _)) = owned {
        hub.stop(false);
    }
    if let Some(t) = &temp {
        let _ = std::fs::remove_dir_all(t);
    }
    if let Some(path) = &a.junit {
        write_junit(path, &outcome)?;
    }
    if g.json {
        crate::output::json(&outcome);
    } else {
        summary(&outcome);
    }
    if outcome.ok() {
        Ok(())
    } else {
        Err(ClientError::Reported(
            codes::FAILURE,
            format!(
                "{} failed, {} could not run",
                outcome.failed, outcome.errors
            ),
        )
        .into())
    }
}

fn write_junit(path: &Path, outcome: &RunOutcome) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, hublet_scenario::junit::xml(outcome)).map_err(|e| {
        ClientError::Exit(
            codes::FAILURE,
            format!("cannot write {}: {e}", path.display()),
        )
        .into()
    })
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "✓",
        Verdict::Failed => "✗",
        Verdict::Error => "!",
        Verdict::Skipped => "-",
    }
}

fn case_line(c: &CaseOutcome, live: bool) {
    let word = match c.verdict {
        Verdict::Passed => "PASS",
        Verdict::Failed => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Skipped => "SKIP",
    };
    if live {
        println!("  {word} in {:.2} s\n", c.duration_ms / 1000.0);
    } else {
        println!("{word:<5} {} ({:.2} s)", c.name, c.duration_ms / 1000.0);
    }
}

fn summary(o: &RunOutcome) {
    let bad: Vec<&CaseOutcome> = o
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Passed)
        .collect();
    for c in &bad {
        let Some(s) = c.failing_step() else { continue };
        println!(
            "\n{} — {}",
            c.name,
            if c.verdict == Verdict::Failed {
                "failed"
            } else {
                "could not run"
            }
        );
        println!("  at {}:{} ({}), step {}", c.file, s.line, s.label, s.at);
        if let Some(m) = &s.message {
            println!("  {m}");
        }
        if let (Some(e), Some(a)) = (&s.expected, &s.actual) {
            println!("  expected: {e}\n  actual:   {a}");
        }
        if let Some(k) = &s.story {
            println!("  its story: hublet trace --correlation {k}");
        }
    }
    println!(
        "\n{} passed, {} failed, {} could not run, in {:.2} s",
        o.passed,
        o.failed,
        o.errors,
        o.duration_ms / 1000.0
    );
}
