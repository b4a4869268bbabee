//! What the bench binaries that run the real `hublet serve` share:
//! `--name value` arguments, free loopback ports, and starting the hub as
//! a child process that is ready when it returns.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The value after `name` on the command line, or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A port free on 127.0.0.1 now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `hublet --data-dir DIR --json serve ARGS…` with `RUST_LOG` set to
/// `log` (its log to this process's stderr when given, else discarded) and
/// returns once it printed its ready document.
pub fn serve(dir: &Path, args: &[String], log: Option<&str>) -> Child {
    // `HUBLET_BENCH_HEAPTRACK=<file>` runs the hub under heaptrack, for a
    // heap profile of a bench's load (docs/benchmarks.md).
    // `HUBLET_BENCH_HUB_BIN=<path>` runs another build of the hub (another
    // commit's, for a before and after in one session on one machine).
    let bin = std::env::var("HUBLET_BENCH_HUB_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_hublet").to_string());
    let mut cmd = match std::env::var("HUBLET_BENCH_HEAPTRACK") {
        Ok(out) => {
            let mut c = Command::new("heaptrack");
            c.args(["-o", &out, &bin]);
            c
        }
        Err(_) => Command::new(&bin),
    };
    let mut child = cmd
        .arg("--data-dir")
        .arg(dir)
        .args(["--json", "serve"])
        .args(args)
        // `HUBLET_BENCH_SERVE_ARGS="--durability normal"` adds flags to the
        // hub's command line, to measure what a setting moves.
        .args(
            std::env::var("HUBLET_BENCH_SERVE_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env("RUST_LOG", log.unwrap_or("error"))
        .stdout(Stdio::piped())
        .stderr(if log.is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap();
    // `serve --json` prints one (pretty) document once it is ready.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut doc = String::new();
    while serde_json::from_str::<serde_json::Value>(&doc).is_err() {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("the hub did not start: {doc}");
        }
        // A wrapper (heaptrack) may print its own lines first.
        if doc.is_empty() && !line.starts_with('{') {
            continue;
        }
        doc.push_str(&line);
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}
