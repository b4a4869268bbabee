//! Starts `hublet serve` on a temporary data directory with every listener
//! on an ephemeral loopback port, and runs CLI commands against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use tempfile::TempDir;

pub struct Served {
    pub dir: TempDir,
    pub child: Child,
}

pub fn bin() -> PathBuf {
    cargo_bin("hublet")
}

impl Served {
    pub fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let child = serve(dir.path()).spawn().unwrap();
        let s = Served { dir, child };
        s.wait_ready();
        s
    }

    pub fn wait_ready(&self) {
        let start = Instant::now();
        while !self.dir.path().join("hub.json").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "hublet serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn hub_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("hub.json")).unwrap())
            .unwrap()
    }

    /// `hublet --data-dir <dir> args…`
    pub fn cli(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(bin());
        c.arg("--data-dir").arg(self.dir.path()).args(args);
        c.timeout(Duration::from_secs(60));
        c
    }

    /// Runs a command, expects success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        terminate(&self.child);
        self.child.wait().unwrap()
    }

    /// Starts a new `hublet serve` on the same data directory.
    pub fn restart(&mut self) {
        self.child = serve(self.dir.path()).spawn().unwrap();
        self.wait_ready();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data-dir")
        .arg(dir)
        .args([
            "serve",
            "--mqtt",
            "127.0.0.1:0",
            "--mqtts",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
            "--amqps",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

pub fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
}
