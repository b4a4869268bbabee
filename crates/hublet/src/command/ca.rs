use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Global;
use crate::client::{Client, ClientError};
use crate::exit::codes;

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Write the hub's CA certificate (PEM) for firmware and SDKs.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output file (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(g: &Global, c: CaCommand) -> anyhow::Result<()> {
    let CaCommand::Export(a) = c;
    // The CA lives in the data directory; a remote hub (--hub) serves it.
    let local = g.data_dir().join("tls").join("ca.pem");
    let pem = if g.hub.is_none() && local.exists() {
        std::fs::read_to_string(&local)?
    } else {
        Client::connect(g)?
            .get_raw("/api/ca", &[])
            .await?
            .text()
            .await?
    };
    if !pem.contains("BEGIN CERTIFICATE") {
        return Err(
            ClientError::Exit(codes::FAILURE, "the hub returned no certificate".into()).into(),
        );
    }
    match a.out {
        Some(p) => {
            std::fs::write(&p, &pem)?;
            if g.json {
                crate::output::json(&serde_json::json!({"written": p}));
            } else {
                println!("wrote the hub's CA certificate to {}", p.display());
            }
        }
        None => print!("{pem}"),
    }
    Ok(())
}
