//! C2D over IoT Hub's HTTP device endpoints, for reject and abandon.

use crate::profile::C2dAction;

fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Receives (locks) the next message: its lock token and message id.
pub(crate) async fn receive(
    http: &reqwest::Client,
    base: &str,
    device: &str,
    token: &str,
) -> Option<(String, String)> {
    let url = format!(
        "{base}/devices/{}/messages/deviceBound?api-version=2020-03-13",
        seg(device)
    );
    let r = http
        .get(url)
        .header("Authorization", token)
        .send()
        .await
        .ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    let etag = r
        .headers()
        .get("etag")?
        .to_str()
        .ok()?
        .trim_matches('"')
        .to_string();
    let mid = r
        .headers()
        .get("iothub-messageid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Some((etag, mid))
}

/// Completes, rejects or abandons a received message; true on 204.
pub(crate) async fn settle(
    http: &reqwest::Client,
    base: &str,
    device: &str,
    token: &str,
    etag: &str,
    action: C2dAction,
) -> bool {
    let path = format!(
        "{base}/devices/{}/messages/deviceBound/{}",
        seg(device),
        seg(etag)
    );
    let req = match action {
        C2dAction::Abandon => http.post(format!("{path}/abandon?api-version=2020-03-13")),
        C2dAction::Reject => http.delete(format!("{path}?api-version=2020-03-13&reject")),
        C2dAction::Complete | C2dAction::Withhold => {
            http.delete(format!("{path}?api-version=2020-03-13"))
        }
    };
    matches!(req.header("Authorization", token).send().await, Ok(r) if r.status().as_u16() == 204)
}
