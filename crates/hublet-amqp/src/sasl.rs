//! SASL as IoT Hub's service endpoint offers it.
//!
//! - `MSSBCBS` (uamqp, the Python SDK): "authenticate later with CBS"; no
//!   data, always accepted, the connection stays unauthorized until a
//!   put-token.
//! - `ANONYMOUS` (Java): the same.
//! - `PLAIN` (the Azure CLI with a key, older clients): the user name is
//!   `{policy}@sas.root.{hub}` and the password a service SAS token. The token
//!   is checked here; a bad one fails the SASL exchange (`auth`).
//!
//! The acceptor is cloned into the connection's handshake and its result is
//! not handed back, so what it learned goes into a shared slot the
//! connection reads once the handshake is done.

use std::sync::{Arc, Mutex};

use fe2o3_amqp::acceptor::SaslAcceptor;
use fe2o3_amqp::acceptor::sasl_acceptor::SaslServerFrame;
use fe2o3_amqp::types::primitives::{Array, Symbol};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};

use crate::auth::ConnAuth;

/// The mechanisms offered, strongest first.
pub const MECHANISMS: [&str; 3] = ["MSSBCBS", "PLAIN", "ANONYMOUS"];

/// What the SASL exchange settled.
#[derive(Debug, Clone, Default)]
pub struct SaslResult {
    /// The mechanism the client chose.
    pub mechanism: Option<String>,
}

/// Hublet's SASL acceptor for one connection.
#[derive(Debug, Clone)]
pub struct HubSasl {
    auth: Arc<ConnAuth>,
    result: Arc<Mutex<SaslResult>>,
}

impl HubSasl {
    pub(crate) fn new(auth: Arc<ConnAuth>) -> HubSasl {
        HubSasl {
            auth,
            result: Arc::new(Mutex::new(SaslResult::default())),
        }
    }

    /// What the exchange settled (after the handshake).
    pub(crate) fn result(&self) -> SaslResult {
        self.result
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn outcome(code: SaslCode) -> SaslServerFrame {
        SaslServerFrame::Outcome(SaslOutcome {
            code,
            additional_data: None,
        })
    }

    /// PLAIN: `\0user\0password`, the password a SAS token.
    fn plain(&self, init: &SaslInit) -> SaslCode {
        let Some(data) = init.initial_response.as_ref() else {
            return SaslCode::Auth;
        };
        let mut parts = data.as_ref().split(|b| *b == 0);
        let (_authz, user, password) = (parts.next(), parts.next(), parts.next());
        let (Some(user), Some(password)) = (user, password) else {
            return SaslCode::Auth;
        };
        let user = String::from_utf8_lossy(user);
        let token = String::from_utf8_lossy(password);
        if !user.contains("@sas.root.") {
            self.auth
                .refused(&hublet_core::HubError::Unauthorized(format!(
                    "SASL PLAIN user '{user}' is not '{{policy}}@sas.root.{{hub}}'"
                )));
            return SaslCode::Auth;
        }
        match self.auth.put_token(&token) {
            Ok(_) => SaslCode::Ok,
            Err(_) => SaslCode::Auth,
        }
    }
}

impl SaslAcceptor for HubSasl {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(
            MECHANISMS
                .iter()
                .map(|m| Symbol::from(*m))
                .collect::<Vec<_>>(),
        )
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        let mechanism = init.mechanism.0.clone();
        let code = match mechanism.as_str() {
            "MSSBCBS" | "ANONYMOUS" => SaslCode::Ok,
            "PLAIN" => self.plain(&init),
            other => {
                self.auth
                    .refused(&hublet_core::HubError::Unauthorized(format!(
                        "SASL mechanism '{other}' is not offered (MSSBCBS, PLAIN, ANONYMOUS)"
                    )));
                SaslCode::Auth
            }
        };
        self.result
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .mechanism = Some(mechanism);
        Self::outcome(code)
    }

    fn on_response(&mut self, _response: SaslResponse) -> SaslServerFrame {
        // No mechanism offered here sends a challenge, so no response is due.
        Self::outcome(SaslCode::Sys)
    }
}
