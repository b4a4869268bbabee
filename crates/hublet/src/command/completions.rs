//! `hublet completions SHELL` and `hublet man`: generated from the command
//! tree itself (clap_complete, clap_mangen), so they never drift from it.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::client::ClientError;
use crate::exit::codes;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish.
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `hublet.1` and one page per command (`hublet-send.1`, …) here;
    /// without it, print `hublet.1` to standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Writes `bytes` to standard output; a reader that went away (`| head`)
/// is not an error.
fn emit(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints the completion script for `a.shell`.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "hublet", &mut out);
    emit(&out)
}

/// Writes or prints the man pages.
pub fn man(a: ManArgs) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match a.out {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            emit(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                ClientError::Exit(
                    codes::FAILURE,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            clap_mangen::generate_to(cmd, &dir).map_err(|e| {
                ClientError::Exit(
                    codes::FAILURE,
                    format!("cannot write man pages to {}: {e}", dir.display()),
                )
            })?;
            eprintln!("man pages written to {}", dir.display());
        }
    }
    Ok(())
}
