//! Who a service connection is: unauthorized until it proves a shared access
//! policy with `ServiceConnect`, by a CBS put-token (the SDKs) or SASL PLAIN
//! (`{policy}@sas.root.{hub}` and a SAS token as the password, used by the
//! Azure CLI and older clients). Both use the hub's one SAS verifier, so a
//! token good for HTTPS is good here and one refused there is refused here.
//!
//! A grant lasts until its token's `se`; the SDKs put a new token before
//! then. Links watch the grant and detach with `amqp:unauthorized-access`
//! ("Token Invalid.") when it runs out, as IoT Hub does.

use hublet_core::auth::Permission;
use hublet_core::auth::sas::SasToken;
use hublet_core::trace::detail::{ServiceAuthFailed, ServiceAuthorized};
use hublet_core::{Hub, HubError, NewEvent, Timestamp, TraceDetail};
use tokio::sync::watch;

/// A proven policy and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The policy's name.
    pub policy: String,
    /// The token's expiry.
    pub expiry: Timestamp,
}

/// The authorization of one connection, shared by its links.
#[derive(Debug)]
pub struct ConnAuth {
    hub: Hub,
    via: &'static str,
    remote: String,
    grant: watch::Sender<Option<Grant>>,
}

impl ConnAuth {
    pub(crate) fn new(hub: Hub, via: &'static str, remote: String) -> ConnAuth {
        ConnAuth {
            hub,
            via,
            remote,
            grant: watch::Sender::new(None),
        }
    }

    /// Checks a service SAS token; on success the connection is authorized
    /// until it expires. Traced either way.
    pub fn put_token(&self, token: &str) -> Result<Grant, HubError> {
        let checked = self
            .hub
            .authenticate_service(token, Permission::ServiceConnect)
            .and_then(|policy| {
                let t =
                    SasToken::parse(token).map_err(|e| HubError::Unauthorized(e.to_string()))?;
                Ok(Grant {
                    policy,
                    expiry: Timestamp(t.expiry.saturating_mul(1000)),
                })
            });
        match checked {
            Ok(g) => {
                self.trace(TraceDetail::ServiceAuthorized(ServiceAuthorized {
                    via: self.via.into(),
                    remote: self.remote.clone(),
                    policy: g.policy.clone(),
                    expiry: g.expiry,
                }));
                self.grant.send_replace(Some(g.clone()));
                Ok(g)
            }
            Err(e) => {
                self.refused(&e);
                Err(e)
            }
        }
    }

    /// Traces a refused credential.
    pub(crate) fn refused(&self, e: &HubError) {
        self.trace(TraceDetail::ServiceAuthFailed(ServiceAuthFailed {
            via: self.via.into(),
            remote: self.remote.clone(),
            code: e.code().number(),
            reason: e.to_string(),
        }));
    }

    /// The grant in force now, if any.
    pub fn current(&self) -> Option<Grant> {
        let now = self.hub.now();
        self.grant.borrow().clone().filter(|g| g.expiry > now)
    }

    /// Follows the grant (a new token replaces it).
    pub fn watch(&self) -> watch::Receiver<Option<Grant>> {
        self.grant.subscribe()
    }

    /// Resolves when the connection is no longer authorized: its grant ran
    /// out without a new token. Returns at once if it is not authorized.
    pub async fn lapsed(&self) {
        let mut rx = self.watch();
        loop {
            let Some(expiry) = rx.borrow_and_update().as_ref().map(|g| g.expiry) else {
                return;
            };
            if expiry <= self.hub.now() {
                return;
            }
            tokio::select! {
                _ = self.hub.clock().sleep_until(expiry) => {}
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Where the connection came from.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// The transport name in trace events.
    pub fn via(&self) -> &'static str {
        self.via
    }

    /// Appends a trace event about this connection.
    pub(crate) fn trace(&self, detail: TraceDetail) {
        self.hub.trace().append(NewEvent::hub(detail));
    }
}
