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
        let policies = self.policies();
        let t = auth::precheck_device_token(
            token,
            device_id,
            &policies,
            &self.settings().host_names(),
            self.now().unix_seconds(),
        )
        .map_err(|e| Refusal::told(e.to_string()))?;
        let row = match self.device_row(device_id).await {
            Ok(r) => Some(r),
            Err(HubError::DeviceNotFound(_)) => None,
            Err(e) => {
                return Err(Refusal {
                    reason: e.to_string(),
                    public: e,
                });
            }
        };
        let keys = row
            .as_ref()
            .map(|r| [r.primary_key.as_str(), r.secondary_key.as_str()])
            .unwrap_or([DECOY_KEY, DECOY_KEY]);
        let signed = auth::device_token_signed(&t, keys, &policies);
        match row {
            None => Err(Refusal::hidden(format!(
                "device '{device_id}' is not registered"
            ))),
            Some(r) if r.status == DeviceStatus::Disabled => {
                Err(Refusal::hidden(format!("device '{device_id}' is disabled")))
            }
            Some(_) if !signed => Err(Refusal::hidden(
                auth::sas::SasError::BadSignature.to_string(),
            )),
            Some(_) => Ok(Timestamp(t.expiry.saturating_mul(1000))),
        }
    }

    /// Checks a credential a trusted local transport vouches for (the
    /// serial bridge, the simulator): the device must exist and be enabled.
    /// These callers are the hub's owner, so the reason is told.
    pub(crate) async fn check_device_trusted(&self, device_id: &str) -> Result<(), Refusal> {
        match self.device_row(device_id).await {
            Ok(r) if r.status == DeviceStatus::Disabled => {
                Err(Refusal::told(format!("device '{device_id}' is disabled")))
            }
            Ok(_) => Ok(()),
            Err(HubError::DeviceNotFound(_)) => Err(Refusal::told(format!(
                "device '{device_id}' is not registered"
            ))),
            Err(e) => Err(Refusal {
                reason: e.to_string(),
                public: e,
            }),
        }
    }
}
