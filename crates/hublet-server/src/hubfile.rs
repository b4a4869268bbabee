//! How commands find a running hub: `hublet serve` writes `hub.json` (where
//! it listens) into its data directory and keeps the bearer token in
//! `api-token` (readable by its owner only).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Written by `hublet serve`, removed when it stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubFile {
    /// `http://127.0.0.1:8480`.
    pub api: Option<String>,
    /// `https://localhost:8443`.
    pub https: Option<String>,
    /// MQTT listener address.
    pub mqtt: Option<String>,
    /// MQTT/TLS listener address.
    pub mqtts: Option<String>,
    /// The serving process.
    pub pid: u32,
}

/// The file name of the running hub's addresses.
pub const HUB_FILE: &str = "hub.json";
/// The file name of the API token.
pub const TOKEN_FILE: &str = "api-token";

/// Where `hub.json` is in `dir`.
pub fn hub_file(dir: &Path) -> PathBuf {
    dir.join(HUB_FILE)
}

/// The running hub's addresses, if one runs on `dir`.
pub fn read(dir: &Path) -> Option<HubFile> {
    let text = std::fs::read_to_string(hub_file(dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `hub.json` atomically.
pub fn write(dir: &Path, f: &HubFile) -> std::io::Result<()> {
    let tmp = dir.join(format!("{HUB_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(f).unwrap_or_default())?;
    std::fs::rename(tmp, hub_file(dir))
}

/// Reads the token, creating it (owner-only) if missing.
pub fn token(dir: &Path, create: bool) -> std::io::Result<Option<String>> {
    let path = dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(Some(t.trim().to_string())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if !create {
        return Ok(None);
    }
    let t = hublet_api::generate_token();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(&path)?.write_all(t.as_bytes())?;
    Ok(Some(t))
}
