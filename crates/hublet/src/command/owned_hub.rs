//! A hub `hublet test --serve` starts for its run: `hublet serve` as a
//! child process on a data directory, every listener on a free loopback
//! port. Owning it, the run can restart it (a scenario's `restart_hub` and
//! `crash_hub` faults): stopped cleanly (SIGTERM) or killed (SIGKILL), then
//! started again on the same data directory and the same addresses, so
//! devices reconnect where they were.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hublet_server::hubfile;

/// How long a start may take before it counts as failed.
const START_WITHIN: Duration = Duration::from_secs(30);

/// The child hub.
pub struct OwnedHub {
    dir: PathBuf,
    demo: bool,
    child: Mutex<Option<Child>>,
    /// The addresses of its first start (`--api`, `--mqtt`), kept on restarts.
    addrs: Mutex<(String, String)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OwnedHub {
    /// Starts `hublet serve` on `dir` (with the demo fleet if `demo`).
    pub fn start(dir: &Path, demo: bool) -> anyhow::Result<OwnedHub> {
        let hub = OwnedHub {
            dir: dir.to_path_buf(),
            demo,
            child: Mutex::new(None),
            addrs: Mutex::new(("127.0.0.1:0".into(), "127.0.0.1:0".into())),
        };
        hub.spawn()?;
        let f = hubfile::read(dir).ok_or_else(|| anyhow::anyhow!("the hub wrote no hub.json"))?;
        let api = f
            .api
            .unwrap_or_default()
            .trim_start_matches("http://")
            .to_string();
        *lock(&hub.addrs) = (api, f.mqtt.unwrap_or_default());
        Ok(hub)
    }

    /// Starts the child and waits until it has written its `hub.json`.
    fn spawn(&self) -> anyhow::Result<()> {
        let (api, mqtt) = lock(&self.addrs).clone();
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--data-dir").arg(&self.dir).arg("serve");
        cmd.args(["--api", &api, "--mqtt", &mqtt]);
        cmd.args([
            "--mqtts",
            "off",
            "--https",
            "off",
            "--https-fallback",
            "off",
            "--amqps",
            "off",
        ]);
        if self.demo {
            cmd.arg("--demo");
        }
        let log = std::fs::File::create(self.dir.join("test-serve.log"))?;
        cmd.stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .stdin(Stdio::null());
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let started = Instant::now();
        loop {
            if hubfile::read(&self.dir).is_some_and(|f| f.pid == pid) {
                break;
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!(
                    "the hub exited at start ({status}); see {}",
                    self.dir.join("test-serve.log").display()
                );
            }
            if started.elapsed() > START_WITHIN {
                let _ = child.kill();
                anyhow::bail!("the hub did not start within {} s", START_WITHIN.as_secs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *lock(&self.child) = Some(child);
        Ok(())
    }

    /// Stops the child: SIGTERM and a wait for it to finish (it closes
    /// its database and listeners), or SIGKILL when `crash`.
    pub fn stop(&self, crash: bool) {
        let Some(mut child) = lock(&self.child).take() else {
            return;
        };
        if crash {
            let _ = child.kill();
        } else {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_err() {
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }

    /// Stops the hub and starts it again (blocking).
    fn restart_now(&self, crash: bool) -> Result<(), String> {
        self.stop(crash);
        self.spawn()
            .map_err(|e| format!("the hub did not come back: {e}"))
    }
}

impl hublet_scenario::run::HubControl for OwnedHub {
    fn restart(
        &self,
        crash: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move { tokio::task::block_in_place(|| self.restart_now(crash)) })
    }
}

impl Drop for OwnedHub {
    fn drop(&mut self) {
        self.stop(false);
    }
}
