//! Console throughput: lines per second from a board on a pseudo-terminal
//! through the bridge into the trace (stored, indexed, durable), as
//! `hublet serve` runs it.
//!
//! ```text
//! cargo bench -p hublet-serial --bench console -- [--lines 200000] [--bytes 64]
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use hublet_core::{Hub, HubOptions, HubSettings};
use hublet_serial::{Emulator, SerialBridge, SerialSettings};

fn arg(name: &str) -> Option<String> {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .cloned()
}

fn main() {
    let lines: usize = arg("--lines")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let width: usize = arg("--bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
        .max(16);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let hub =
            Hub::open(HubOptions::new(dir.path().join("hub.db")).settings(HubSettings::default()))
                .await
                .unwrap();
        let bridge = SerialBridge::new(hub.clone());
        let emu = Emulator::start(None).unwrap();
        bridge
            .bind(emu.path(), "bench-board", SerialSettings::default(), false)
            .await
            .unwrap();
        while bridge.status("bench-board").unwrap().state != hublet_serial::BoardState::Connected {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = bridge.status("bench-board").unwrap().lines_in as usize;
        let mut flood = Vec::with_capacity(lines * (width + 2));
        for i in 0..lines {
            let head = format!("I (12345) app: line {i:09} ");
            flood.extend_from_slice(head.as_bytes());
            flood.extend(std::iter::repeat_n(b'.', width.saturating_sub(head.len())));
            flood.extend_from_slice(b"\r\n");
        }
        let bytes = flood.len();
        let start = Instant::now();
        let writer = std::thread::spawn(move || {
            emu.write_raw(&flood).unwrap();
            emu
        });
        while (bridge.status("bench-board").unwrap().lines_in as usize) < before + lines {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let read = start.elapsed();
        hub.trace().flush().await.unwrap();
        let stored = start.elapsed();
        let _emu = writer.join().unwrap();
        let extent = hub.trace().extent().await.unwrap();
        println!(
            "lines            {lines} of {width} bytes + CRLF ({:.1} MB)",
            bytes as f64 / 1e6
        );
        println!(
            "read by bridge   {:.2} s  {:.0} lines/s",
            read.as_secs_f64(),
            lines as f64 / read.as_secs_f64()
        );
        println!(
            "stored in trace  {:.2} s  {:.0} lines/s  {:.1} MB/s",
            stored.as_secs_f64(),
            lines as f64 / stored.as_secs_f64(),
            bytes as f64 / 1e6 / stored.as_secs_f64()
        );
        println!("trace events     {}", extent.events);
        bridge.shutdown().await;
        hub.close().await.unwrap();
    });
}
