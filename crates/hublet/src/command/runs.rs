//! `hublet runs`: the QA run records the hub keeps (from `hublet test` and
//! the app's Scenarios screen).

use clap::Args;
use hublet_api::dto::TestRunDto;

use super::Global;
use crate::client::Client;

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// One case's record, with its steps.
    pub id: Option<i64>,
    /// Only this batch (one `hublet test` or one Run in the app).
    #[arg(long)]
    pub batch: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

pub async fn run(g: &Global, a: RunsArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    if let Some(id) = a.id {
        let r: TestRunDto = c.get(&format!("/api/test-runs/{id}"), &[]).await?;
        if g.json {
            crate::output::json(&r);
            return Ok(());
        }
        println!(
            "#{} {} — {} (batch {}, {})",
            r.id, r.name, r.verdict, r.batch, r.started
        );
        if let Some(file) = r.record["file"].as_str() {
            println!("file {file}, seed {}", r.record["seed"]);
        }
        for s in r.record["steps"].as_array().into_iter().flatten() {
            println!(
                "  {:<8} {:>8.1} ms  {}{}",
                s["verdict"].as_str().unwrap_or_default(),
                s["durationMs"].as_f64().unwrap_or_default(),
                s["label"].as_str().unwrap_or_default(),
                s["message"]
                    .as_str()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
            if let (Some(e), Some(g)) = (s["expected"].as_str(), s["actual"].as_str()) {
                println!("           expected {e}\n           got      {g}");
            }
        }
        return Ok(());
    }
    let mut q = vec![("limit", a.limit.to_string())];
    if let Some(b) = a.batch {
        q.push(("batch", b));
    }
    let list: Vec<TestRunDto> = c.get("/api/test-runs", &q).await?;
    if g.json {
        crate::output::json(&list);
        return Ok(());
    }
    if list.is_empty() {
        println!("no test runs recorded yet (hublet test records them)");
    }
    for r in &list {
        println!(
            "#{:<6} {:<8} {}  {}  ({})",
            r.id, r.verdict, r.started, r.name, r.batch
        );
    }
    Ok(())
}
