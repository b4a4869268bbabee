//! Credentials: symmetric keys, shared access policies, SAS verification and
//! connection strings.
//!
//! Transports never check a token themselves: they hand it to
//! [`crate::Hub::authenticate_device`] or [`crate::Hub::authenticate_service`],
//! which call the pure functions here with the registry's keys.

pub mod connection_string;
mod device;
pub mod sas;

pub use device::REFUSED;
pub(crate) mod table;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use sas::{SasError, SasToken, covers};

/// A fresh symmetric key: 32 random bytes, base64 (as IoT Hub generates).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// The two keys of a new identity: each one given (validated) or freshly
/// generated.
pub fn keys_or_generated(
    primary: Option<&String>,
    secondary: Option<&String>,
) -> Result<(String, String), crate::HubError> {
    let pick = |k: Option<&String>| match k {
        Some(k) => validate_key(k).map(|()| k.clone()),
        None => Ok(generate_key()),
    };
    Ok((pick(primary)?, pick(secondary)?))
}

/// Checks that `key` is base64 of 16 to 64 bytes (IoT Hub's accepted key sizes).
pub fn validate_key(key: &str) -> Result<(), crate::HubError> {
    match B64.decode(key.trim()) {
        Ok(b) if (16..=64).contains(&b.len()) => Ok(()),
        _ => Err(crate::HubError::invalid(
            "a symmetric key must be base64 of 16 to 64 bytes",
        )),
    }
}

/// What a shared access policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Read the device registry.
    RegistryRead,
    /// Create, change and delete devices.
    RegistryWrite,
    /// Send C2D messages, invoke methods, read feedback.
    ServiceConnect,
    /// Connect as any device.
    DeviceConnect,
}

/// A hub-level shared access policy (`iothubowner`, `service`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Policy name, sent as `skn`.
    pub name: String,
    /// Primary key, base64.
    pub primary_key: String,
    /// Secondary key, base64.
    pub secondary_key: String,
    /// What the policy allows.
    pub permissions: Vec<Permission>,
}

/// The policies IoT Hub creates for every hub, with their permissions.
pub fn default_policies() -> Vec<Policy> {
    use Permission::*;
    [
        (
            "iothubowner",
            vec![RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect],
        ),
        ("service", vec![ServiceConnect]),
        ("device", vec![DeviceConnect]),
        ("registryRead", vec![RegistryRead]),
        ("registryReadWrite", vec![RegistryRead, RegistryWrite]),
    ]
    .into_iter()
    .map(|(name, permissions)| Policy {
        name: name.into(),
        primary_key: generate_key(),
        secondary_key: generate_key(),
        permissions,
    })
    .collect()
}

/// True when the token's host (with or without port) is one of `names`.
fn host_known(token_host: &str, names: &[String]) -> bool {
    let strip = |h: &str| {
        h.rsplit_once(':')
            .map(|(a, _)| a.to_string())
            .unwrap_or_else(|| h.to_string())
    };
    let bare = strip(token_host);
    names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        n == token_host || strip(&n) == bare
    })
}

fn check_host(token: &SasToken, names: &[String]) -> Result<String, SasError> {
    let (host, _) = token.host_and_path();
    if !host_known(&host, names) {
        return Err(SasError::UnknownHost {
            host,
            known: names.join(", "),
        });
    }
    Ok(host)
}

/// The checks on a device's SAS token that do not depend on whether the
/// device exists: the shape, a host this hub answers to, a resource covering
/// `{host}/devices/{deviceId}`, the expiry, and (with `skn`) a policy that
/// exists and has `DeviceConnect`. Their reasons may be told to anyone.
///
/// The signature is checked separately by [`device_token_signed`] once the
/// device's keys are known; see [`crate::Hub::authenticate_device`] for why
/// the two halves are split.
pub fn precheck_device_token(
    token: &str,
    device_id: &str,
    policies: &[Policy],
    host_names: &[String],
    now_unix: i64,
) -> Result<SasToken, SasError> {
    precheck_identity_token(
        token,
        &format!("devices/{device_id}"),
        policies,
        host_names,
        now_unix,
    )
}

/// [`precheck_device_token`] for any identity: `resource_path` is
/// `devices/{d}` or `devices/{d}/modules/{m}` (a module's token must cover
/// the module; a device's token does not).
pub fn precheck_identity_token(
    token: &str,
    resource_path: &str,
    policies: &[Policy],
    host_names: &[String],
    now_unix: i64,
) -> Result<SasToken, SasError> {
    let t = SasToken::parse(token)?;
    let host = check_host(&t, host_names)?;
    let target = format!("{host}/{resource_path}");
    if !covers(&t.resource(), &target) {
        return Err(SasError::WrongResource {
            sr: t.resource(),
            target,
        });
    }
    t.check_expiry(now_unix)?;
    if let Some(name) = &t.key_name {
        let p = policies
            .iter()
            .find(|p| &p.name == name)
            .ok_or_else(|| SasError::Policy(format!("no shared access policy named '{name}'")))?;
        if !p.permissions.contains(&Permission::DeviceConnect) {
            return Err(SasError::Policy(format!(
                "policy '{name}' lacks DeviceConnect"
            )));
        }
    }
    Ok(t)
}

/// True when a prechecked device token is signed by one of the device's
/// keys, or (with `skn`) by the named policy's keys.
pub fn device_token_signed(t: &SasToken, device_keys: [&str; 2], policies: &[Policy]) -> bool {
    match &t.key_name {
        None => device_keys.iter().any(|k| t.signed_by(k)),
        Some(name) => policies
            .iter()
            .find(|p| &p.name == name)
            .is_some_and(|p| t.signed_by(&p.primary_key) || t.signed_by(&p.secondary_key)),
    }
}

/// Verifies a device's SAS token against known keys: both halves at once,
/// for callers that already hold the device's keys.
pub fn verify_device_token(
    token: &str,
    device_id: &str,
    device_keys: [&str; 2],
    policies: &[Policy],
    host_names: &[String],
    now_unix: i64,
) -> Result<(), SasError> {
    let t = precheck_device_token(token, device_id, policies, host_names, now_unix)?;
    if device_token_signed(&t, device_keys, policies) {
        Ok(())
    } else {
        Err(SasError::BadSignature)
    }
}

/// Verifies a service-side SAS token signed by a policy that has `needed`.
/// Returns the policy name.
pub fn verify_service_token(
    token: &str,
    needed: Permission,
    policies: &[Policy],
    host_names: &[String],
    now_unix: i64,
) -> Result<String, SasError> {
    let t = SasToken::parse(token)?;
    let host = check_host(&t, host_names)?;
    if !covers(&t.resource(), &host) && !t.resource().starts_with(&format!("{host}/")) {
        return Err(SasError::WrongResource {
            sr: t.resource(),
            target: host,
        });
    }
    let name = t
        .key_name
        .clone()
        .ok_or_else(|| SasError::Policy("a service token needs 'skn' (the policy name)".into()))?;
    let p = policies
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| SasError::Policy(format!("no shared access policy named '{name}'")))?;
    if !(t.signed_by(&p.primary_key) || t.signed_by(&p.secondary_key)) {
        return Err(SasError::BadSignature);
    }
    t.check_expiry(now_unix)?;
    if !p.permissions.contains(&needed) {
        return Err(SasError::Policy(format!(
            "policy '{name}' lacks {needed:?}"
        )));
    }
    Ok(name)
}
