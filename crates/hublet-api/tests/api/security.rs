//! Who may call, and from where.

use reqwest::Method;

use crate::support::{Api, TOKEN, api_error};

#[tokio::test]
async fn every_api_call_needs_the_token_or_an_owner_sas() {
    let a = Api::new().await;
    let key = a.device("d1").await;
    let none = a.http.get(a.url("/api/devices")).send().await.unwrap();
    assert_eq!(
        api_error(none).await,
        (401, Some(401003), "IotHubUnauthorized".into())
    );
    let wrong = a
        .http
        .get(a.url("/api/devices"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(wrong).await.1, Some(401003));
    let device_token = a.device_token("d1", &key);
    let r = a
        .http
        .get(a.url("/api/devices"))
        .header("Authorization", device_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a device token cannot use the API");
    let r = a
        .http
        .get(a.url("/api/devices"))
        .header("Authorization", a.service_token("registryRead"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a read-only policy cannot use the whole API"
    );
    let r = a
        .http
        .get(a.url("/api/devices"))
        .header("Authorization", a.service_token("iothubowner"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = a
        .http
        .get(a.url(&format!("/api/devices?access_token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the token may come in the query (EventSource, downloads)"
    );
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    let a = Api::new().await;
    for host in [
        "evil.example",
        "evil.example:8480",
        "localhost.evil.example",
    ] {
        let r = a
            .req(Method::GET, "/api/stats")
            .header("Host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(
            api_error(r).await,
            (403, None, "ForbiddenHost".into()),
            "{host}"
        );
    }
    for host in [
        "localhost:1",
        "127.0.0.1",
        "[::1]:8480",
        "bench.example",
        "192.168.1.20:8480",
    ] {
        let r = a
            .req(Method::GET, "/api/stats")
            .header("Host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn browsers_may_call_only_from_the_apps_own_origins() {
    let a = Api::new().await;
    let r = a
        .req(Method::GET, "/api/stats")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(r).await.2, "ForbiddenOrigin");
    for origin in ["tauri://localhost", "http://localhost:5173"] {
        let r = a
            .req(Method::GET, "/api/stats")
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    let same = format!("http://{}", a.server.http_addr().unwrap());
    let r = a
        .req(Method::GET, "/api/stats")
        .header("Origin", &same)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "same origin (the UI served by the hub itself)"
    );
    let pre = a
        .http
        .request(Method::OPTIONS, a.url("/api/devices"))
        .header("Origin", "tauri://localhost")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    // Everything the app sends across origins (the desktop app's UI is
    // served from tauri://): the token, a twin's etag, a query's paging.
    for h in [
        "authorization",
        "content-type",
        "if-match",
        "x-ms-max-item-count",
        "x-ms-continuation",
    ] {
        assert!(allowed.contains(h), "{h} is not allowed: {allowed}");
    }
    assert!(
        pre.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-ms-continuation")
    );
}

#[tokio::test]
async fn https_serves_the_same_api_with_the_hubs_ca() {
    let a = Api::new().await;
    let r = a
        .https
        .get(a.https_url("/api/stats"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let unknown = a
        .https
        .get(a.https_url("/nothing/here"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
