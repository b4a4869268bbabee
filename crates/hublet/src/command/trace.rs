use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use futures::StreamExt;
use hublet_api::dto::TraceEventDto;

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(subcommand)]
    pub export: Option<TraceCommand>,
    #[command(flatten)]
    pub filter: Filter,
    /// How many events (newest last).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Keep printing new events (Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Filter {
    /// Only this device.
    #[arg(long, global = true)]
    pub device: Option<String>,
    /// Only these kinds or families, comma-separated (e.g. `c2d,method.timed_out`).
    #[arg(long, global = true)]
    pub kind: Option<String>,
    /// Only events since this time: RFC 3339, or an age like 30s, 10m, 2h, 1d.
    #[arg(long, global = true)]
    pub since: Option<String>,
    /// Only the story of this message id or request id.
    #[arg(long, global = true)]
    pub correlation: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Export every matching event to a file.
    Export(ExportArgs),
    /// Compare two runs step by step (method calls, C2D messages,
    /// telemetry): exits 1 when they differ beyond the tolerances.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A trace export (`.jsonl`, from `hublet trace export` or the app), or
    /// `run:ID`, a recorded test case's stretch of the trace (`hublet runs`).
    pub a: String,
    /// The other run, the same way.
    pub b: String,
    /// Latencies and settle times may differ by this much.
    #[arg(long, value_name = "DURATION", default_value = "100ms")]
    pub time_tolerance: String,
    /// Numbers in payloads may differ by this much.
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    pub value_tolerance: f64,
    /// Telemetry counts may differ by this share (0.2 = 20 %).
    #[arg(long, value_name = "SHARE", default_value_t = 0.2)]
    pub count_tolerance: f64,
    /// Print every pair, not only those that differ.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// `jsonl` or `csv`.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `10m` → the RFC 3339 time ten minutes ago; RFC 3339 passes through.
pub(crate) fn since(s: &str) -> anyhow::Result<String> {
    if hublet_core::Timestamp::parse_rfc3339(s).is_some() {
        return Ok(s.to_string());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| {
        ClientError::Exit(
            codes::BAD_INPUT,
            format!("--since '{s}' is not RFC 3339 or an age like 10m"),
        )
    })?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(ClientError::Exit(
                codes::BAD_INPUT,
                format!("--since '{s}': unit must be s, m, h or d"),
            )
            .into());
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    Ok(hublet_core::Timestamp(now - secs * 1000).to_rfc3339())
}

fn query(f: &Filter) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut q = Vec::new();
    if let Some(d) = &f.device {
        q.push(("deviceId", d.clone()));
    }
    if let Some(k) = &f.kind {
        q.push(("kind", k.clone()));
    }
    if let Some(s) = &f.since {
        q.push(("since", since(s)?));
    }
    if let Some(c) = &f.correlation {
        q.push(("correlation", c.clone()));
    }
    Ok(q)
}

/// One event: a line for humans, or one JSON line (`--json`).
pub(super) fn print(e: &TraceEventDto, json: bool) {
    if json {
        println!("{}", serde_json::to_string(e).unwrap_or_default());
        return;
    }
    let keys = [&e.message_id, &e.request_id]
        .iter()
        .filter_map(|k| k.as_deref())
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "{} #{:<7} {:<20} {:<16} {:<24} {}",
        e.ts.to_rfc3339(),
        e.id,
        e.kind_str(),
        e.device_id.as_deref().unwrap_or("-"),
        keys,
        e.detail.summary()
    );
}

/// Warns (on standard error) about a filter that can match nothing: a
/// device that is not registered, a kind or family that does not exist.
async fn check_filter(c: &Client, f: &Filter) -> anyhow::Result<()> {
    if let Some(k) = &f.kind {
        let known = |want: &str| {
            let want = want.trim();
            let family = want.trim_end_matches('*').trim_end_matches('.');
            hublet_core::EventKind::ALL.iter().any(|k| {
                let name = k.as_str();
                if want.ends_with('*') || !want.contains('.') {
                    name.starts_with(&format!("{family}."))
                } else {
                    name == want
                }
            })
        };
        let unknown: Vec<&str> = k
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty() && !known(w))
            .collect();
        if !unknown.is_empty() {
            let kinds: Vec<&str> = hublet_core::EventKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect();
            eprintln!(
                "warning: no event kind or family '{}'; the kinds are: {}",
                unknown.join("', '"),
                kinds.join(", ")
            );
        }
    }
    if let Some(d) = &f.device
        && let Err(e) = c
            .get::<serde_json::Value>(&format!("/api/devices/{}", crate::client::seg(d)), &[])
            .await
    {
        match e.downcast_ref::<ClientError>() {
            Some(ClientError::Api(a)) if a.status == 404 => eprintln!(
                "warning: no device '{d}' is registered (a deleted device's events are still shown)"
            ),
            _ => return Err(e),
        }
    }
    Ok(())
}

pub async fn run(g: &Global, a: TraceArgs) -> anyhow::Result<()> {
    if let Some(TraceCommand::Diff(d)) = a.export {
        return diff(g, d).await;
    }
    let c = Client::connect(g)?;
    check_filter(&c, &a.filter).await?;
    if let Some(TraceCommand::Export(e)) = a.export {
        return export(&c, g, &a.filter, e).await;
    }
    let mut q = query(&a.filter)?;
    q.push(("limit", a.limit.to_string()));
    q.push(("newestFirst", "true".into()));
    let mut events: Vec<TraceEventDto> = c.get("/api/trace", &q).await?;
    events.reverse();
    for e in &events {
        print(e, g.json);
    }
    if !a.follow {
        return Ok(());
    }
    let mut sq = query(&a.filter)?;
    let last = events.last().map(|e| e.id).unwrap_or(0);
    sq.push(("afterId", last.to_string()));
    let resp = c.get_raw("/api/trace/stream", &sq).await?;
    crate::sse::read(resp, |ev| {
        match ev.event.as_str() {
            "trace" => {
                if let Ok(e) = serde_json::from_str::<TraceEventDto>(&ev.data) {
                    print(&e, g.json);
                }
            }
            "lagged" => eprintln!("warning: fell behind the live trace: {}", ev.data),
            _ => {}
        }
        true
    })
    .await
}

async fn export(c: &Client, g: &Global, f: &Filter, e: ExportArgs) -> anyhow::Result<()> {
    let format = e.format.to_ascii_lowercase();
    if format != "jsonl" && format != "csv" {
        return Err(ClientError::Exit(
            codes::BAD_INPUT,
            format!("--format '{}' is not jsonl or csv", e.format),
        )
        .into());
    }
    let mut q = query(f)?;
    q.push(("format", format.clone()));
    // Opened first, so a bad path fails before the hub does any work.
    let out = std::fs::File::create(&e.out).map_err(|err| {
        ClientError::Exit(
            codes::FAILURE,
            format!("cannot write the export to {}: {err}", e.out.display()),
        )
    })?;
    let resp = c.get_raw("/api/trace/export", &q).await?;
    let mut file = std::io::BufWriter::new(out);
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && !g.json {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} exporting: {msg} ({bytes} written, {elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        Some(b)
    } else {
        None
    };
    let mut lines: u64 = 0;
    let mut bytes: u64 = 0;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
        file.write_all(&chunk).map_err(|err| {
            ClientError::Exit(
                codes::FAILURE,
                format!("cannot write the export to {}: {err}", e.out.display()),
            )
        })?;
        if let Some(b) = &bar {
            b.set_position(bytes);
            b.set_message(format!("{lines} lines"));
        }
    }
    file.flush()?;
    let events = if format == "csv" {
        lines.saturating_sub(1)
    } else {
        lines
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if g.json {
        crate::output::json(
            &serde_json::json!({"written": e.out, "format": format, "bytes": bytes}),
        );
    } else {
        println!(
            "exported {} ({} bytes, about {events} events) to {}",
            format,
            bytes,
            e.out.display()
        );
    }
    Ok(())
}

/// Every event matching `query` (pages of 5,000 by event id), oldest
/// first, after event `after` (0: from the start).
pub(crate) async fn fetch_all(
    c: &Client,
    query: &[(&str, String)],
    mut after: i64,
) -> anyhow::Result<Vec<hublet_core::TraceEvent>> {
    let mut out: Vec<hublet_core::TraceEvent> = Vec::new();
    loop {
        let mut q = query.to_vec();
        q.push(("limit", "5000".into()));
        q.push(("afterId", after.to_string()));
        let page: Vec<hublet_core::TraceEvent> = c.get("/api/trace", &q).await?;
        let n = page.len();
        if let Some(last) = page.last() {
            after = last.id;
        }
        out.extend(page);
        if n < 5000 {
            return Ok(out);
        }
    }
}

/// One side of a diff: an export file, or a recorded case's trace range.
async fn diff_side(g: &Global, side: &str) -> anyhow::Result<Vec<hublet_core::TraceEvent>> {
    if let Some(id) = side.strip_prefix("run:") {
        let c = Client::connect(g)?;
        let run: hublet_api::dto::TestRunDto = c
            .get(&format!("/api/test-runs/{}", crate::client::seg(id)), &[])
            .await?;
        if run.verdict == "running" {
            return Err(
                ClientError::Exit(codes::BAD_INPUT, format!("{side} is still running")).into(),
            );
        }
        let from = run.record["traceFrom"].as_i64().unwrap_or(0);
        let to = run.record["traceTo"].as_i64().unwrap_or(0);
        // Only the case's own devices: other devices' traffic in the same
        // stretch (a demo fleet's telemetry) is not part of the run.
        let devices: Vec<String> = run.record["devices"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut events = fetch_all(&c, &[("beforeId", (to + 1).to_string())], from).await?;
        if !devices.is_empty() {
            events.retain(|e| e.device_id.as_ref().is_some_and(|d| devices.contains(d)));
        }
        return Ok(events);
    }
    let file = std::fs::File::open(side).map_err(|e| {
        ClientError::Exit(
            codes::BAD_INPUT,
            format!("{side}: {e} (give a .jsonl trace export or run:ID)"),
        )
    })?;
    hublet_core::trace::read_jsonl(std::io::BufReader::new(file))
        .map_err(|e| ClientError::Exit(codes::BAD_INPUT, format!("{side}: {e}")).into())
}

async fn diff(g: &Global, d: DiffArgs) -> anyhow::Result<()> {
    let time = humantime::parse_duration(&d.time_tolerance).map_err(|e| {
        ClientError::Exit(
            codes::BAD_INPUT,
            format!(
                "--time-tolerance '{}' is not a duration like 100ms or 1s: {e}",
                d.time_tolerance
            ),
        )
    })?;
    let a = diff_side(g, &d.a).await?;
    let b = diff_side(g, &d.b).await?;
    let opts = hublet_core::trace::diff::DiffOptions {
        time_ms: time.as_secs_f64() * 1000.0,
        value: d.value_tolerance,
        count_share: d.count_tolerance,
    };
    let result = hublet_core::trace::diff::diff(&a, &b, opts);
    if g.json {
        crate::output::json(&result);
    } else {
        for l in &result.lines {
            if l.differences.is_empty() && !d.all {
                continue;
            }
            let mark = if l.differences.is_empty() { "=" } else { "≠" };
            let devices = match &l.devices {
                (Some(x), Some(y)) if x == y => x.clone(),
                (x, y) => format!(
                    "{} / {}",
                    x.as_deref().unwrap_or("-"),
                    y.as_deref().unwrap_or("-")
                ),
            };
            println!("{mark} {} ({devices})", l.what);
            println!("    A: {}", l.a.as_deref().unwrap_or("—"));
            println!("    B: {}", l.b.as_deref().unwrap_or("—"));
            for x in &l.differences {
                println!("    ≠ {x}");
            }
        }
        println!(
            "{} of {} compared steps differ ({} events in A, {} in B)",
            result.differing,
            result.lines.len(),
            a.len(),
            b.len()
        );
    }
    if result.differing > 0 {
        return Err(ClientError::Reported(
            codes::FAILURE,
            format!("{} steps differ", result.differing),
        )
        .into());
    }
    Ok(())
}
