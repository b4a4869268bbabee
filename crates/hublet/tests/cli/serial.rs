//! `hublet serial …` against a real hub with an emulated board on a
//! pseudo-terminal.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hublet_serial::Emulator;

use crate::support::{Served, bin};

fn wait_board(s: &Served, id: &str, state: &str) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let list = s.json(&["serial", "list"]);
        if let Some(b) = list["boards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["deviceId"] == id && b["state"] == state)
        {
            return b.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{id} never {state}: {list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_received(emu: &Emulator, want: &[u8]) {
    let start = Instant::now();
    while !emu.received().iter().any(|l| l == want) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the board never received {:?}",
            String::from_utf8_lossy(want)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bind_a_board_then_drive_it_as_a_device_and_through_its_console() {
    let s = Served::start();
    let emu = Emulator::start(Some("bench-cli")).unwrap();
    let out = s.ok(&[
        "serial",
        "bind",
        emu.path(),
        "--device",
        "bench-cli",
        "--baud",
        "9600",
        "--line-ending",
        "crlf",
    ]);
    assert!(out.contains("board 'bench-cli' bound to"), "{out}");
    let b = wait_board(&s, "bench-cli", "connected");
    assert_eq!(b["settings"]["baud"], 9600);
    assert_eq!(
        s.json(&["device", "show", "bench-cli"])["kind"],
        "serialBoard"
    );

    let r = s.json(&["invoke", "bench-cli", "echo", "--payload", "{\"a\":1}"]);
    assert_eq!(r["status"], 200);
    assert_eq!(r["payload"]["a"], 1);
    s.ok(&[
        "send",
        "bench-cli",
        "light on",
        "--ack",
        "full",
        "--wait-feedback",
        "30",
    ]);
    let e = s
        .cli(&[
            "send",
            "bench-cli",
            "reject it",
            "--ack",
            "full",
            "--wait-feedback",
            "30",
        ])
        .output()
        .unwrap();
    assert_eq!(
        e.status.code(),
        Some(8),
        "rejected by the board: negative feedback"
    );

    s.ok(&["serial", "send", "bench-cli", "status"]);
    wait_received(&emu, b"status");
    s.ok(&["serial", "send", "bench-cli", "--hex", "41 54 0d 0a"]);
    wait_received(&emu, b"AT");
    s.ok(&["serial", "send", "bench-cli", "--escaped", r"\x02go\n"]);
    wait_received(&emu, b"\x02go");

    // The console, with piped input: history first, then live lines; a
    // typed line goes to the board.
    let mut console = std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(s.dir.path())
        .args(["serial", "console", "bench-cli"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = console.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut seen = Vec::new();
    let mut expect = |want: &str| {
        let start = Instant::now();
        while !seen.iter().any(|l: &String| l.contains(want)) {
            let left = Duration::from_secs(30).saturating_sub(start.elapsed());
            match rx.recv_timeout(left) {
                Ok(l) => seen.push(l),
                Err(_) => panic!("the console never showed {want:?}: {seen:#?}"),
            }
        }
    };
    expect("< boot: emulated board ready");
    expect("> status");
    emu.println("live from the board").unwrap();
    expect("< live from the board");
    console
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"typed in the console\n")
        .unwrap();
    wait_received(&emu, b"typed in the console");
    expect("> typed in the console");
    let _ = console.kill();
    let _ = console.wait();

    let out = s.ok(&["serial", "release", "bench-cli"]);
    assert!(out.contains("released"), "{out}");
    wait_board(&s, "bench-cli", "released");
    let e = s
        .cli(&["invoke", "bench-cli", "echo", "--connect-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(4), "404103 while released");
    s.ok(&["serial", "reclaim", "bench-cli"]);
    wait_board(&s, "bench-cli", "connected");
    // Hublet 0.1's verbs still work, for one release.
    s.ok(&["serial", "detach", "bench-cli"]);
    wait_board(&s, "bench-cli", "released");
    s.ok(&["serial", "reattach", "bench-cli"]);
    wait_board(&s, "bench-cli", "connected");
    s.ok(&["serial", "unbind", "bench-cli"]);
    let list = s.json(&["serial", "list"]);
    assert!(list["boards"].as_array().unwrap().is_empty());
    let e = s.cli(&["serial", "release", "bench-cli"]).output().unwrap();
    assert_eq!(e.status.code(), Some(3), "not a board: not found");
    assert!(String::from_utf8_lossy(&e.stderr).contains("not a serial board"));
}
