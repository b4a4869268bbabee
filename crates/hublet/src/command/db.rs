//! `hublet db check`: the database's integrity, checked read-only.
//!
//! Runs on the file itself, not through a hub, so it works when the hub
//! refuses to start; it is safe while a hub runs (it only reads).

use clap::{Args, Subcommand};
use hublet_core::{CheckDepth, IntegrityReport, check_database};

use super::Global;
use crate::client::ClientError;
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Check the database for damage (SQLite's integrity_check); never modifies it.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only SQLite's quick_check (what the hub runs at every start): faster,
    /// but does not compare indexes with their tables.
    #[arg(long)]
    pub quick: bool,
}

pub async fn run(g: &Global, c: DbCommand) -> anyhow::Result<()> {
    let DbCommand::Check(a) = c;
    let path = g.data_dir().join(hublet_core::DB_FILE);
    if !path.exists() {
        return Err(ClientError::Exit(
            codes::NOT_FOUND,
            format!("there is no database at {}", path.display()),
        )
        .into());
    }
    let depth = if a.quick {
        CheckDepth::Quick
    } else {
        CheckDepth::Full
    };
    let report = tokio::task::spawn_blocking(move || check_database(&path, depth)).await??;
    if g.json {
        crate::output::json(&report);
    } else {
        print_report(&report);
    }
    if report.ok {
        Ok(())
    } else {
        Err(ClientError::Reported(codes::DAMAGED, format!("{} is damaged", report.path)).into())
    }
}

fn print_report(r: &IntegrityReport) {
    let depth = match r.depth {
        CheckDepth::Quick => "quick check",
        CheckDepth::Full => "full check",
    };
    if r.ok {
        println!("{}: ok ({depth}, {} bytes)", r.path, r.bytes);
        return;
    }
    println!("{}: DAMAGED ({depth}, {} bytes)", r.path, r.bytes);
    for p in &r.problems {
        println!("  - {p}");
    }
    println!("{}", r.advice);
}
