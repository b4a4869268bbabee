//! `hublet`: run the hub headless, and drive a running hub from a terminal,
//! a script or a CI job.
//!
//! The file tree mirrors the command tree: `command/<verb>.rs`, and
//! `command/device/<verb>.rs` for `hublet device <verb>`. Every command but
//! `serve` talks to a running hub through its REST API, found through the
//! data directory (`hub.json` and `api-token`) or given with `--hub` and
//! `--token`. Exit codes are listed in `docs/cli.md`.

mod client;
mod command;
mod exit;
mod input;
mod output;
mod sse;

use clap::Parser;

fn main() -> std::process::ExitCode {
    hublet_server::malloc::limit_malloc_arenas();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match command::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // `--json` promises one JSON document, usage errors included;
            // help and version are not errors and print as they are.
            let json = std::env::args().any(|a| a == "--json");
            if json && e.use_stderr() {
                return exit::usage(&e);
            }
            e.exit();
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json = cli.global.json;
    match rt.block_on(command::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => exit::report(&e, json),
    }
}
