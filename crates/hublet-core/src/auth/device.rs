//! Checking a device's credential against the registry: the one place every
//! transport (MQTT, HTTP, AMQP, serial, simulator) asks "may this device in?".
//!
//! A refusal has two texts. The *public* one goes back over the wire: for
//! anything that depends on the registry (unknown id, disabled device, wrong
//! signature) it is the same sentence, so a caller without the key cannot
//! learn which device ids exist (IoT Hub answers 401 for all three). The
//! *reason* is specific and goes into the `device.auth_failed` trace event,
//! which only the hub's owner reads.
//!
//! Checks that do not depend on the registry (the token's shape, host,
//! resource, expiry, policy) run first and may say exactly what is wrong:
//! their answer is the same whether or not the device exists.

use crate::error::{HubError, HubResult};
use crate::hub::Hub;
use crate::ids::{DeviceId, Identity};
use crate::registry::DeviceStatus;
use crate::trace::NewEvent;
use crate::trace::detail::{DeviceAuthFailed, TraceDetail};
use crate::{Timestamp, auth};

/// What a caller is told when the registry, not the token's form, refuses
/// it. Deliberately the same for an unknown id, a disabled device and a
/// wrong key.
pub const REFUSED: &str = "not authorized: the device is not registered or is disabled, or the token is not signed with its key";

/// A refused credential: what to answer, and what to trace.
pub(crate) struct Refusal {
    /// Returned to the caller (401003).
    pub(crate) public: HubError,
    /// Recorded in the trace.
    pub(crate) reason: String,
}

impl Refusal {
    fn told(reason: String) -> Refusal {
        Refusal {
            public: HubError::Unauthorized(reason.clone()),
            reason,
        }
    }

    fn hidden(reason: String) -> Refusal {
        Refusal {
            public: HubError::Unauthorized(REFUSED.into()),
            reason,
        }
    }
}

/// A key no device has, so an unknown id costs the same HMAC as a known one.
const DECOY_KEY: &str = "aHVibGV0LWRlY295LWtleS1uZXZlci1tYXRjaGVzLTAwMDA=";

impl Hub {
    /// Checks a device SAS token (for transports that do not attach, such
    /// as the HTTP device endpoints), tracing a refusal as
    /// `device.auth_failed` with the specific reason.
    pub async fn authenticate_device(
        &self,
        device_id: &str,
        token: &str,
        via: &str,
        remote: Option<String>,
    ) -> HubResult<()> {
        match self.check_device_sas(device_id, token).await {
            Ok(_) => Ok(()),
            Err(r) => Err(self.refuse(device_id, via, remote, r)),
        }
    }

    /// Traces a refusal and returns the error to answer with.
    pub(crate) fn refuse(
        &self,
        device_id: &str,
        via: &str,
        remote: Option<String>,
        r: Refusal,
    ) -> HubError {
        let detail = TraceDetail::DeviceAuthFailed(DeviceAuthFailed {
            via: via.to_string(),
            remote,
            code: r.public.code().number(),
            reason: r.reason,
        });
        self.inner.db.append(NewEvent::new(device_id, detail));
        r.public
    }

    /// Verifies a device SAS token; returns its expiry.
    pub(crate) async fn check_device_sas(
        &self,
        device_id: &str,
        token: &str,
    ) -> Result<Timestamp, Refusal> {
        match DeviceId::new(device_id) {
            Ok(d) => self.check_identity_sas(&Identity::device(d), token).await,
            Err(e) => Err(Refusal::told(e.to_string())),
        }
    }

    /// Verifies a SAS token for a device or a module; returns its expiry.
    /// A module is refused when it or its device is unknown, or its
    /// device is disabled.
    pub(crate) async fn check_identity_sas(
        &self,
        who: &Identity,
        token: &str,
    ) -> Result<Timestamp, Refusal> {
        let policies = self.policies();
        let t = auth::precheck_identity_token(
            token,
            &who.resource_path(),
            &policies,
            &self.settings().host_names(),
            self.now().unix_seconds(),
        )
        .map_err(|e| Refusal::told(e.to_string()))?;
        let found = match self.identity_keys(who).await {
            Ok(r) => Some(r),
            Err(HubError::DeviceNotFound(_) | HubError::ModuleNotFound { .. }) => None,
            Err(e) => {
                return Err(Refusal {
                    reason: e.to_string(),
                    public: e,
                });
            }
        };
        let keys = found
            .as_ref()
            .map(|(_, k)| [k[0].as_str(), k[1].as_str()])
            .unwrap_or([DECOY_KEY, DECOY_KEY]);
        let signed = auth::device_token_signed(&t, keys, &policies);
        match found {
            None => Err(Refusal::hidden(format!("{} is not registered", what(who)))),
            Some((DeviceStatus::Disabled, _)) => Err(Refusal::hidden(format!(
                "device '{}' is disabled",
                who.device
            ))),
            Some(_) if !signed => Err(Refusal::hidden(
                auth::sas::SasError::BadSignature.to_string(),
            )),
            Some(_) => Ok(Timestamp(t.expiry.saturating_mul(1000))),
        }
    }

    /// The device's status and the identity's two keys.
    async fn identity_keys(&self, who: &Identity) -> HubResult<(DeviceStatus, [String; 2])> {
        let who = who.clone();
        self.inner
            .db
            .read(move |conn| {
                let dev = crate::registry::table::get_required(conn, who.device.as_str())?;
                let keys = match &who.module {
                    None => [dev.primary_key, dev.secondary_key],
                    Some(m) => {
                        let m = crate::modules::table::get_required(
                            conn,
                            who.device.as_str(),
                            m.as_str(),
                        )?;
                        [m.primary_key, m.secondary_key]
                    }
                };
                Ok((dev.status, keys))
            })
            .await
    }

    /// Checks a credential a trusted local transport vouches for (the
    /// serial bridge, the simulator): the device must exist and be enabled.
    /// These callers are the hub's owner, so the reason is told.
    pub(crate) async fn check_device_trusted(&self, who: &Identity) -> Result<(), Refusal> {
        match self.identity_keys(who).await {
            Ok((DeviceStatus::Disabled, _)) => Err(Refusal::told(format!(
                "device '{}' is disabled",
                who.device
            ))),
            Ok(_) => Ok(()),
            Err(HubError::DeviceNotFound(_) | HubError::ModuleNotFound { .. }) => {
                Err(Refusal::told(format!("{} is not registered", what(who))))
            }
            Err(e) => Err(Refusal {
                reason: e.to_string(),
                public: e,
            }),
        }
    }
}

/// "device 'd'" or "module 'm' of device 'd'", for refusal reasons.
fn what(who: &Identity) -> String {
    match &who.module {
        None => format!("device '{}'", who.device),
        Some(m) => format!("module '{m}' of device '{}'", who.device),
    }
}
