//! Shared access signature (SAS) tokens: the one implementation every
//! transport uses to create and verify them (semantics reference 4.4).
//!
//! A token is `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]` in any field
//! order. The signature is HMAC-SHA256, keyed with the base64-decoded key, over
//! `sr` *exactly as it appears in the token*, a newline, and `se`.
//!
//! SDKs disagree on how they encode `sr` (upper- or lower-case escapes,
//! `quote` or `quote_plus`), so verification is lenient in the documented
//! ways: the signature is checked over `sr` as sent, then lower-cased, then
//! percent-decoded; and the resource check compares the decoded, lower-cased
//! `sr` with the target resource by whole path segments.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What Python's `urllib.parse.quote(s, safe="")` leaves alone: letters,
/// digits and `_ . - ~`. The Azure device SDK encodes `sr` and `sig` this way.
const QUOTE_ALL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Why a token was refused. The text is safe to show to the device's owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// The token does not have the SAS shape.
    #[error("malformed SAS token: {0}")]
    Malformed(String),
    /// The signature does not match any key that could sign it.
    #[error("the signature does not match the key (wrong or rotated key?)")]
    BadSignature,
    /// `se` is in the past.
    #[error("the token expired at {expiry} (Unix seconds); the hub's time is {now}")]
    Expired {
        /// The token's `se`.
        expiry: i64,
        /// The hub's current Unix time.
        now: i64,
    },
    /// `sr` does not cover the resource being accessed.
    #[error("the token is for '{sr}', which does not cover '{target}'")]
    WrongResource {
        /// The decoded, lower-cased `sr`.
        sr: String,
        /// The resource being accessed.
        target: String,
    },
    /// `sr` names a host this hub does not answer to.
    #[error(
        "the token names host '{host}', which is not one of this hub's names ({known}); set the hub name or add an alias"
    )]
    UnknownHost {
        /// Host named by the token.
        host: String,
        /// The hub's names, comma-separated.
        known: String,
    },
    /// The named policy does not exist or lacks the permission.
    #[error("{0}")]
    Policy(String),
}

/// A parsed SAS token. Fields are kept exactly as they appeared, because the
/// signature covers `sr` as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasToken {
    /// `sr` as it appeared in the token (still percent-encoded).
    pub sr_raw: String,
    /// The raw signature bytes (percent- and base64-decoded).
    pub signature: Vec<u8>,
    /// Expiry, Unix seconds.
    pub expiry: i64,
    /// Policy name (`skn`), if present.
    pub key_name: Option<String>,
}

impl SasToken {
    /// Parses a token. Tolerates any field order, a missing `skn`, and a
    /// signature whose `/` and `+` were left unencoded.
    pub fn parse(token: &str) -> Result<SasToken, SasError> {
        let body = token
            .trim()
            .strip_prefix("SharedAccessSignature ")
            .ok_or_else(|| {
                SasError::Malformed("it must start with 'SharedAccessSignature '".into())
            })?;
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for field in body.split('&') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| SasError::Malformed(format!("field '{field}' has no '='")))?;
            let slot = match k {
                "sr" => &mut sr,
                "sig" => &mut sig,
                "se" => &mut se,
                "skn" => &mut skn,
                _ => continue,
            };
            if slot.replace(v.to_string()).is_some() {
                return Err(SasError::Malformed(format!("field '{k}' appears twice")));
            }
        }
        let sr_raw = sr.ok_or_else(|| SasError::Malformed("no 'sr' field".into()))?;
        let sig = sig.ok_or_else(|| SasError::Malformed("no 'sig' field".into()))?;
        let se = se.ok_or_else(|| SasError::Malformed("no 'se' field".into()))?;
        let expiry: i64 = se
            .parse()
            .map_err(|_| SasError::Malformed(format!("'se={se}' is not Unix seconds")))?;
        // `unquote`, not `unquote_plus`: a literal '+' in a signature is base64.
        let sig_b64 = percent_decode_str(&sig)
            .decode_utf8()
            .map_err(|_| SasError::Malformed("'sig' is not valid percent-encoded text".into()))?;
        let signature = B64
            .decode(sig_b64.as_bytes())
            .map_err(|_| SasError::Malformed("'sig' is not base64".into()))?;
        let key_name = match skn {
            Some(k) => Some(
                percent_decode_str(&k)
                    .decode_utf8()
                    .map_err(|_| SasError::Malformed("'skn' is not valid text".into()))?
                    .into_owned(),
            ),
            None => None,
        };
        Ok(SasToken {
            sr_raw,
            signature,
            expiry,
            key_name,
        })
    }

    /// The resource the token covers: `sr` percent-decoded and lower-cased.
    pub fn resource(&self) -> String {
        let r = percent_decode_str(&self.sr_raw)
            .decode_utf8_lossy()
            .to_ascii_lowercase();
        // Event Hubs audiences carry a scheme (`sb://host/hub/…`): the
        // resource is what follows it.
        match r.split_once("://") {
            Some((_, rest)) => rest.to_string(),
            None => r,
        }
    }

    /// True when `key_b64` signed this token (over `sr` as sent, lower-cased,
    /// or decoded). The comparison is constant-time.
    ///
    /// The key is tried as IoT Hub's SDKs use it (base64-decoded) and as the
    /// Event Hubs SDKs do (the key text's bytes, not decoded).
    pub fn signed_by(&self, key_b64: &str) -> bool {
        let key_text = key_b64.trim();
        let decoded_key = B64.decode(key_text).ok();
        let keys: Vec<&[u8]> = decoded_key
            .as_deref()
            .into_iter()
            .chain(std::iter::once(key_text.as_bytes()))
            .collect();
        let decoded = percent_decode_str(&self.sr_raw)
            .decode_utf8_lossy()
            .into_owned();
        let lowered = self.sr_raw.to_ascii_lowercase();
        keys.iter().any(|key| {
            [self.sr_raw.as_str(), lowered.as_str(), decoded.as_str()]
                .iter()
                .any(|sr| {
                    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
                        return false;
                    };
                    mac.update(format!("{sr}\n{}", self.expiry).as_bytes());
                    mac.verify_slice(&self.signature).is_ok()
                })
        })
    }

    /// Checks the expiry against `now_unix` (no clock-skew allowance; see docs/semantics.md).
    pub fn check_expiry(&self, now_unix: i64) -> Result<(), SasError> {
        if now_unix >= self.expiry {
            return Err(SasError::Expired {
                expiry: self.expiry,
                now: now_unix,
            });
        }
        Ok(())
    }

    /// Splits the decoded resource into its host (without port) and its path.
    pub fn host_and_path(&self) -> (String, String) {
        let res = self.resource();
        let (host, path) = match res.split_once('/') {
            Some((h, p)) => (h.to_string(), format!("/{p}")),
            None => (res.clone(), String::new()),
        };
        (host, path)
    }
}

/// True when `resource` covers `target` by whole path segments: `a/b` covers
/// `a/b` and `a/b/c`, but not `a/bc`. Both are compared lower-cased, and a
/// trailing `/` on `resource` is ignored.
pub fn covers(resource: &str, target: &str) -> bool {
    let r = resource.trim_end_matches('/').to_ascii_lowercase();
    let t = target.to_ascii_lowercase();
    t == r || t.strip_prefix(&r).is_some_and(|rest| rest.starts_with('/'))
}

/// Creates a token the way the Azure IoT device SDK does: `sr` and `sig`
/// encoded like Python's `quote(…, safe="")`, and `skn` only for a policy.
pub fn create(
    resource_uri: &str,
    key_b64: &str,
    key_name: Option<&str>,
    expiry_unix: i64,
) -> Result<String, SasError> {
    let key = B64
        .decode(key_b64.trim())
        .map_err(|_| SasError::Malformed("the key is not base64".into()))?;
    let sr = utf8_percent_encode(resource_uri, QUOTE_ALL).to_string();
    let mut mac =
        HmacSha256::new_from_slice(&key).map_err(|_| SasError::Malformed("empty key".into()))?;
    mac.update(format!("{sr}\n{expiry_unix}").as_bytes());
    let sig = B64.encode(mac.finalize().into_bytes());
    let sig = utf8_percent_encode(&sig, QUOTE_ALL);
    let mut token = format!("SharedAccessSignature sr={sr}&sig={sig}&se={expiry_unix}");
    if let Some(name) = key_name {
        token.push_str("&skn=");
        token.push_str(&utf8_percent_encode(name, QUOTE_ALL).to_string());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    //! Vectors produced with the published Azure SDK recipes (Python
    //! `hmac`/`base64`/`urllib.parse`, as in azure-iot-device's and
    //! azure-iot-hub's `sastoken.py`) and frozen here.
    use super::*;

    const DEVICE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const SERVICE_KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

    /// azure-iot-device recipe: `quote(uri, safe="")` for sr and sig.
    const DEVICE_SDK_TOKEN: &str = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=S6dbA0D6M6jCiEkUXEkxs9UkC%2FKSddC2cuUE8tLnBAE%3D&se=1795668963";
    /// azure-iot-hub recipe: `quote_plus(host)` for sr, `quote(sig)` leaving '/' bare, plus skn.
    const SERVICE_SDK_TOKEN: &str = "SharedAccessSignature sr=localhost%3A8443&sig=RJQsgWgJHnoVfUBOZwp2SMaZCYHBjqIjCAD0j/Pf60U%3D&se=1795669009&skn=iothubowner";
    /// The documentation's recipe: lower-case encoding of the lower-cased URI.
    const DOCS_TOKEN: &str = "SharedAccessSignature sr=myhub.azure-devices.net%2fdevices%2fdev1&sig=6%2BK5qawzLjryKvsiR9253T7bmcs39QhfBOQvbrf0Qno%3D&se=1795668963";

    #[test]
    fn create_reproduces_the_device_sdk_token_byte_for_byte() {
        let t = create(
            "myhub.azure-devices.net/devices/dev1",
            DEVICE_KEY,
            None,
            1795668963,
        )
        .unwrap();
        assert_eq!(t, DEVICE_SDK_TOKEN);
        let t = create("localhost/devices/Thermo-01", DEVICE_KEY, None, 2000000000).unwrap();
        assert_eq!(
            t,
            "SharedAccessSignature sr=localhost%2Fdevices%2FThermo-01&sig=EnUWcfmxSWvewYEHfYxRbHl%2F1Oyn7cil84e8zWSVPzk%3D&se=2000000000"
        );
    }

    #[test]
    fn tokens_from_every_sdk_recipe_verify() {
        for (tok, key) in [
            (DEVICE_SDK_TOKEN, DEVICE_KEY),
            (SERVICE_SDK_TOKEN, SERVICE_KEY),
            (DOCS_TOKEN, DEVICE_KEY),
        ] {
            let t = SasToken::parse(tok).unwrap();
            assert!(t.signed_by(key), "{tok} should verify");
        }
        let svc = SasToken::parse(SERVICE_SDK_TOKEN).unwrap();
        assert_eq!(svc.key_name.as_deref(), Some("iothubowner"));
        assert_eq!(svc.resource(), "localhost:8443");
    }

    #[test]
    fn wrong_key_or_tampered_fields_fail() {
        let t = SasToken::parse(DEVICE_SDK_TOKEN).unwrap();
        assert!(!t.signed_by(SERVICE_KEY));
        let tampered = DEVICE_SDK_TOKEN.replace("se=1795668963", "se=1795668964");
        assert!(!SasToken::parse(&tampered).unwrap().signed_by(DEVICE_KEY));
        let other_dev = DEVICE_SDK_TOKEN.replace("dev1", "dev2");
        assert!(!SasToken::parse(&other_dev).unwrap().signed_by(DEVICE_KEY));
    }

    #[test]
    fn field_order_does_not_matter() {
        let reordered = "SharedAccessSignature se=1795668963&sig=S6dbA0D6M6jCiEkUXEkxs9UkC%2FKSddC2cuUE8tLnBAE%3D&sr=myhub.azure-devices.net%2Fdevices%2Fdev1";
        assert!(SasToken::parse(reordered).unwrap().signed_by(DEVICE_KEY));
    }

    #[test]
    fn malformed_tokens_are_clear_errors() {
        for bad in [
            "",
            "sr=a&sig=b&se=1",
            "SharedAccessSignature sr=a&se=1",
            "SharedAccessSignature sr=a&sig=%%%&se=1",
            "SharedAccessSignature sr=a&sig=AAAA&se=soon",
            "SharedAccessSignature sr=a&sr=b&sig=AAAA&se=1",
            "SharedAccessSignature garbage",
        ] {
            assert!(
                matches!(SasToken::parse(bad), Err(SasError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn expiry_is_exclusive() {
        let t = SasToken::parse(DEVICE_SDK_TOKEN).unwrap();
        assert!(t.check_expiry(1795668962).is_ok());
        assert!(matches!(
            t.check_expiry(1795668963),
            Err(SasError::Expired { .. })
        ));
    }

    #[test]
    fn resources_cover_by_whole_segments() {
        assert!(covers("hub/devices/a", "hub/devices/a"));
        assert!(covers("hub/devices/a", "hub/devices/a/modules/m"));
        assert!(covers("hub", "hub/devices/a"));
        assert!(covers("HUB/Devices/A/", "hub/devices/a"));
        assert!(!covers("hub/devices/a", "hub/devices/ab"));
        assert!(!covers("hub/devices/ab", "hub/devices/a"));
        assert!(!covers("hub/devices/a/modules", "hub/devices/a"));
    }
}
