//! The simulator: profiles, and fleets of running simulated devices.
//!
//! Profiles come from two places: the ones shipped with Hublet (the
//! repository's `profiles/`, built in) and the user's, saved as TOML files in
//! the data directory's `profiles/` (a user profile with a built-in's name
//! replaces it). Running devices are registered devices of kind `simulated`;
//! those started with `persist` are recorded in the hub's adapter state and
//! started again by [`Simulator::restore`] when the hub restarts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hublet_core::registry::DeviceQuery;
use hublet_core::trace::detail::{SimAction, SimActionKind};
use hublet_core::trace::{NewEvent, TraceDetail};
use hublet_core::{DeviceKind, Hub, HubError, HubResult, NewDevice};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::device::fault::{FaultSender, FaultState, SimFault};
use crate::device::{Device, SimStatus, StatusCell, Target};
use crate::profile::{self, Profile};

/// Namespace of persisted simulated devices in the hub's adapter state.
const STATE: &str = "sim";
/// Largest fleet started at once.
pub const MAX_FLEET: usize = 10_000;

/// A profile as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Shipped with Hublet (not a user file).
    pub builtin: bool,
    /// The TOML text.
    pub toml: String,
}

/// A request to start simulated devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FleetRequest {
    /// Profile name.
    pub profile: String,
    /// How many devices (default 1).
    pub count: Option<usize>,
    /// Device ids are `{prefix}-{n}` (default: the profile's name).
    pub prefix: Option<String>,
    /// Seed of the random generators (default: random).
    pub seed: Option<u64>,
    /// Start them again when the hub restarts.
    pub persist: bool,
    /// Exactly these device ids instead of `{prefix}-{n}` (a scenario
    /// names the devices it needs); `count` and `prefix` are then ignored.
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Persisted {
    profile: String,
    /// The fleet's seed, as given (or drawn) when the fleet started.
    seed: u64,
    /// The device's position in its fleet (its randomness comes from both).
    /// Absent in what Hublet 0.1 stored: there `seed` was the device's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

/// A device's seed: the fleet's (what the user gave and sees) and its
/// position, from which its random generator's seed is derived.
#[derive(Debug, Clone, Copy)]
struct Seed {
    fleet: u64,
    index: Option<usize>,
}

impl Seed {
    fn device(self) -> u64 {
        match self.index {
            Some(i) => device_seed(self.fleet, i),
            None => self.fleet,
        }
    }
}

struct Running {
    faults: FaultSender,
    profile: String,
    seed: Seed,
    persist: bool,
    status: StatusCell,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The simulator.
#[derive(Clone)]
pub struct Simulator {
    hub: Hub,
    target: Arc<Mutex<Target>>,
    user_dir: Option<PathBuf>,
    running: Arc<Mutex<BTreeMap<String, Running>>>,
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Per-device seed: the fleet's seed mixed with the device's position.
fn device_seed(seed: u64, index: usize) -> u64 {
    seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Simulator {
    /// A simulator whose devices connect to `target`; user profiles are
    /// kept in `user_dir` (none: built-ins only).
    pub fn new(hub: Hub, target: Target, user_dir: Option<PathBuf>) -> Simulator {
        // reqwest needs a process-wide rustls provider even for plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Simulator {
            hub,
            target: Arc::new(Mutex::new(target)),
            user_dir,
            running: Arc::new(Mutex::new(BTreeMap::new())),
            http: reqwest::Client::new(),
        }
    }

    /// Sets the hub's HTTP API base URL (for devices that reject or abandon),
    /// once it is known; devices started afterwards use it.
    pub fn set_http(&self, base: Option<String>) {
        lock(&self.target).http = base;
    }

    /// Every profile, user profiles replacing built-ins of the same name.
    pub fn profiles(&self) -> Vec<ProfileInfo> {
        let mut out: BTreeMap<String, ProfileInfo> = BTreeMap::new();
        for (name, text) in profile::builtin() {
            if let Ok(p) = Profile::from_toml(text, name) {
                out.insert(
                    name.to_string(),
                    ProfileInfo {
                        name: name.into(),
                        description: p.description,
                        builtin: true,
                        toml: text.into(),
                    },
                );
            }
        }
        if let Some(dir) = &self.user_dir
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "toml")
                    && let (Some(stem), Ok(text)) = (
                        path.file_stem().and_then(|s| s.to_str()),
                        std::fs::read_to_string(&path),
                    )
                {
                    let description = Profile::from_toml(&text, stem)
                        .map(|p| p.description)
                        .unwrap_or_else(|e| format!("(invalid: {e})"));
                    out.insert(
                        stem.to_string(),
                        ProfileInfo {
                            name: stem.into(),
                            description,
                            builtin: false,
                            toml: text,
                        },
                    );
                }
            }
        }
        out.into_values().collect()
    }

    /// Where the user profile `name` is kept; `None` when there is no user
    /// directory or `name` is not a profile name (so no name can reach
    /// outside the directory).
    fn user_file(&self, name: &str) -> Option<PathBuf> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let dir = self.user_dir.as_ref().filter(|_| valid)?;
        Some(dir.join(format!("{name}.toml")))
    }

    /// One profile, parsed: the user's file of that name, else the built-in
    /// (as [`profiles`](Self::profiles) lists them), reading only that one.
    pub fn profile(&self, name: &str) -> HubResult<Profile> {
        let user = self
            .user_file(name)
            .and_then(|path| std::fs::read_to_string(path).ok());
        let text = user
            .as_deref()
            .or_else(|| {
                profile::builtin()
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t)
            })
            .ok_or_else(|| {
                HubError::invalid(format!(
                    "no simulator profile named '{name}' (see `hublet sim profiles`)"
                ))
            })?;
        Profile::from_toml(text, name).map_err(|e| HubError::invalid(e.to_string()))
    }

    /// Saves a user profile (validated first). Running devices using it
    /// restart with the new behaviour.
    pub async fn save_profile(&self, name: &str, toml_text: &str) -> HubResult<Profile> {
        let p =
            Profile::from_toml(toml_text, name).map_err(|e| HubError::invalid(e.to_string()))?;
        if p.name != name {
            return Err(HubError::invalid(format!(
                "the profile's name is '{}', not '{name}'",
                p.name
            )));
        }
        let path = self
            .user_file(name)
            .ok_or_else(|| HubError::invalid("this hub has no directory for user profiles"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| HubError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(&path, toml_text)
            .map_err(|e| HubError::Internal(format!("cannot write {}: {e}", path.display())))?;
        let using: Vec<(String, Seed, bool)> = lock(&self.running)
            .iter()
            .filter(|(_, r)| r.profile == name)
            .map(|(id, r)| (id.clone(), r.seed, r.persist))
            .collect();
        let profile = Arc::new(p.clone());
        for (id, seed, persist) in using {
            self.stop_task(&id).await;
            self.spawn(&id, name, profile.clone(), seed, persist);
        }
        Ok(p)
    }

    /// Deletes a user profile (built-ins cannot be deleted).
    pub fn delete_profile(&self, name: &str) -> HubResult<()> {
        match self.user_file(name) {
            Some(p) if p.exists() => std::fs::remove_file(&p)
                .map_err(|e| HubError::Internal(format!("cannot delete {}: {e}", p.display()))),
            _ => Err(HubError::invalid(format!("'{name}' is not a user profile"))),
        }
    }

    /// Registers (if needed) and starts `count` devices running `profile`.
    pub async fn start(&self, req: FleetRequest) -> HubResult<Vec<String>> {
        let count = req.count.unwrap_or(1);
        if count == 0 || count > MAX_FLEET {
            return Err(HubError::invalid(format!(
                "count must be between 1 and {MAX_FLEET}"
            )));
        }
        let profile = Arc::new(self.profile(&req.profile)?);
        let prefix = req
            .prefix
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| req.profile.clone());
        let seed = req.seed.unwrap_or_else(rand::random);
        hublet_core::ids::DeviceId::new(format!("{prefix}-1").as_str())?;
        let mut existing: BTreeMap<String, DeviceKind> = self
            .hub
            .registry()
            .list(DeviceQuery {
                search: Some(prefix.clone()),
                limit: Some(100_000),
                ..DeviceQuery::default()
            })
            .await?
            .into_iter()
            .map(|d| (d.device_id, d.kind))
            .collect();
        // `{prefix}-1`, `{prefix}-2`, …, skipping ids that belong to a real
        // device (a user's own `thermostat-1`, say): the fleet takes the
        // next free numbers instead of refusing to start.
        let ids: Vec<String> = if req.ids.is_empty() {
            (1..)
                .map(|n| format!("{prefix}-{n}"))
                .filter(|id| existing.get(id).is_none_or(|k| *k == DeviceKind::Simulated))
                .take(count)
                .collect()
        } else {
            let mut named = Vec::new();
            for id in &req.ids {
                let kind = match existing.get(id) {
                    Some(k) => Some(*k),
                    None => self.hub.registry().get(id).await.ok().map(|d| d.kind),
                };
                match kind {
                    Some(k) if k != DeviceKind::Simulated => {
                        return Err(HubError::invalid(format!(
                            "'{id}' is a real device; a simulated device cannot take it over"
                        )));
                    }
                    Some(k) => {
                        existing.insert(id.clone(), k);
                    }
                    None => {}
                }
                named.push(id.clone());
            }
            named
        };
        for id in &ids {
            hublet_core::ids::DeviceId::new(id.as_str())?;
        }
        let mut creates = Vec::new();
        for id in ids.iter().filter(|id| !existing.contains_key(*id)) {
            let hub = self.hub.clone();
            let spec = NewDevice {
                kind: DeviceKind::Simulated,
                ..NewDevice::named(id.clone())
            };
            creates.push(tokio::spawn(
                async move { hub.registry().create(spec).await },
            ));
        }
        for c in creates {
            c.await.map_err(|e| HubError::Internal(e.to_string()))??;
        }
        if req.persist {
            // Concurrently, so the writes share group commits (as the
            // creates above do) instead of one fsync each.
            let mut puts = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let v = serde_json::to_value(Persisted {
                    profile: req.profile.clone(),
                    seed,
                    index: Some(i),
                })?;
                let (hub, id) = (self.hub.clone(), id.clone());
                puts.push(tokio::spawn(async move {
                    hub.adapter_state(STATE).put(&id, v).await
                }));
            }
            for p in puts {
                p.await.map_err(|e| HubError::Internal(e.to_string()))??;
            }
        }
        for (i, id) in ids.iter().enumerate() {
            self.stop_task(id).await;
            self.spawn(
                id,
                &req.profile,
                profile.clone(),
                Seed {
                    fleet: seed,
                    index: Some(i),
                },
                req.persist,
            );
        }
        Ok(ids)
    }

    fn spawn(
        &self,
        id: &str,
        profile_name: &str,
        profile: Arc<Profile>,
        seed: Seed,
        persist: bool,
    ) {
        let status: StatusCell = Arc::new(Mutex::new(SimStatus {
            device_id: id.to_string(),
            profile: profile_name.to_string(),
            seed: seed.fleet,
            fleet_index: seed.index,
            persist,
            state: "starting".into(),
            ..SimStatus::default()
        }));
        let cancel = CancellationToken::new();
        let (faults, fault_rx) = tokio::sync::watch::channel(FaultState::default());
        let target = lock(&self.target).clone();
        let dev = Device::new(
            self.hub.clone(),
            target,
            self.http.clone(),
            id.to_string(),
            profile,
            seed.device(),
            status.clone(),
            cancel.clone(),
            fault_rx,
        );
        let task = tokio::spawn(dev.run());
        lock(&self.running).insert(
            id.to_string(),
            Running {
                faults,
                profile: profile_name.to_string(),
                seed,
                persist,
                status,
                cancel,
                task,
            },
        );
    }

    async fn stop_task(&self, id: &str) -> bool {
        let r = lock(&self.running).remove(id);
        match r {
            Some(r) => {
                r.cancel.cancel();
                let _ = r.task.await;
                true
            }
            None => false,
        }
    }

    /// Stops one simulated device (it stays registered) and forgets to restart it.
    pub async fn stop(&self, id: &str) -> HubResult<()> {
        let was = self.stop_task(id).await;
        self.hub.adapter_state(STATE).remove(id).await?;
        if !was {
            return Err(HubError::invalid(format!(
                "'{id}' is not a running simulated device"
            )));
        }
        Ok(())
    }

    /// Injects a fault into a running simulated device, for `for_time`
    /// (none: until `resume`); traced as a `sim.action` of kind `fault`.
    pub fn fault(&self, id: &str, fault: SimFault, for_time: Option<Duration>) -> HubResult<()> {
        let running = lock(&self.running);
        let r = running.get(id).ok_or_else(|| {
            HubError::invalid(format!("'{id}' is not a running simulated device"))
        })?;
        let now = self.hub.now();
        r.faults.send_modify(|s| *s = s.apply(fault, now, for_time));
        let detail = TraceDetail::SimAction(SimAction {
            profile: r.profile.clone(),
            action: SimActionKind::Fault {
                fault: fault.as_str().to_string(),
                for_secs: for_time.map(|d| d.as_secs_f64()),
            },
        });
        self.hub.trace().append(NewEvent::new(id, detail));
        Ok(())
    }

    /// Stops every simulated device; returns how many.
    pub async fn stop_all(&self) -> HubResult<usize> {
        let ids: Vec<String> = lock(&self.running).keys().cloned().collect();
        let mut removes = Vec::new();
        for id in &ids {
            self.stop_task(id).await;
            let (hub, id) = (self.hub.clone(), id.clone());
            removes.push(tokio::spawn(async move {
                hub.adapter_state(STATE).remove(&id).await
            }));
        }
        for r in removes {
            r.await.map_err(|e| HubError::Internal(e.to_string()))??;
        }
        Ok(ids.len())
    }

    /// Running devices and what they are doing.
    pub fn list(&self) -> Vec<SimStatus> {
        lock(&self.running)
            .values()
            .map(|r| lock(&r.status).clone())
            .collect()
    }

    /// Starts again the devices persisted by an earlier run. Devices whose
    /// profile is gone, or that were deleted, are skipped.
    pub async fn restore(&self) -> HubResult<usize> {
        let mut n = 0;
        // Each profile read and parsed once, however many devices use it.
        let mut parsed: BTreeMap<String, Result<Arc<Profile>, String>> = BTreeMap::new();
        for (id, v) in self.hub.adapter_state(STATE).all().await? {
            let Ok(p) = serde_json::from_value::<Persisted>(v) else {
                continue;
            };
            let profile = parsed.entry(p.profile.clone()).or_insert_with(|| {
                self.profile(&p.profile)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            });
            match profile {
                Ok(profile) => {
                    let seed = Seed {
                        fleet: p.seed,
                        index: p.index,
                    };
                    self.spawn(&id, &p.profile, profile.clone(), seed, true);
                    n += 1;
                }
                Err(e) => tracing::warn!(device = id, "simulated device not restarted: {e}"),
            }
        }
        Ok(n)
    }

    /// Stops every device without forgetting persisted ones (hub shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Running> = std::mem::take(&mut *lock(&self.running))
            .into_values()
            .collect();
        for r in &all {
            r.cancel.cancel();
        }
        for r in all {
            let _ = r.task.await;
        }
    }
}
