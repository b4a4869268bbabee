//! The device registry and the hub's credentials.

use hublet_core::auth::connection_string::ConnectionString;
use hublet_core::auth::{Permission, sas};
use hublet_core::registry::{DeviceQuery, DeviceUpdate, KeyKind};
use hublet_core::{DeviceKind, DeviceStatus, HubSettings, NewDevice};

use crate::support::TestHub;

#[tokio::test]
async fn create_get_list_search_and_delete() {
    let t = TestHub::new().await;
    for id in ["thermo-1", "thermo-2", "lock-1"] {
        t.device(id).await;
    }
    let d = t.hub.registry().get("thermo-1").await.unwrap();
    assert_eq!(d.status, DeviceStatus::Enabled);
    assert_eq!(d.generation_id.len(), 18);
    assert_eq!(d.cloud_to_device_message_count, 0);
    for key in [&d.primary_key, &d.secondary_key] {
        use base64::Engine;
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(key)
                .unwrap()
                .len(),
            32
        );
    }
    assert_ne!(d.primary_key, d.secondary_key);

    let ids = |v: Vec<hublet_core::Device>| v.into_iter().map(|d| d.device_id).collect::<Vec<_>>();
    assert_eq!(
        ids(t.hub.registry().list(DeviceQuery::default()).await.unwrap()),
        ["lock-1", "thermo-1", "thermo-2"]
    );
    let search = DeviceQuery {
        search: Some("THERMO".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(t.hub.registry().list(search).await.unwrap()),
        ["thermo-1", "thermo-2"]
    );
    let page = DeviceQuery {
        after: Some("lock-1".into()),
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(
        ids(t.hub.registry().list(page).await.unwrap()),
        ["thermo-1"]
    );

    assert_eq!(
        t.hub
            .registry()
            .create(NewDevice::named("lock-1"))
            .await
            .unwrap_err()
            .code()
            .number(),
        409001
    );
    t.hub.registry().delete("lock-1", None).await.unwrap();
    assert_eq!(
        t.hub
            .registry()
            .get("lock-1")
            .await
            .unwrap_err()
            .code()
            .number(),
        404001
    );
    assert_eq!(
        t.hub
            .registry()
            .delete("lock-1", None)
            .await
            .unwrap_err()
            .code()
            .number(),
        404001
    );
    let again = t
        .hub
        .registry()
        .create(NewDevice::named("lock-1"))
        .await
        .unwrap();
    assert_eq!(again.kind, DeviceKind::Standard);
}

#[tokio::test]
async fn updates_change_the_etag_and_if_match_guards_them() {
    let t = TestHub::new().await;
    t.device("d1").await;
    let before = t.hub.registry().get("d1").await.unwrap();
    let after = t
        .hub
        .registry()
        .set_enabled("d1", false, Some("broken".into()))
        .await
        .unwrap();
    assert_eq!(after.status, DeviceStatus::Disabled);
    assert_eq!(after.status_reason.as_deref(), Some("broken"));
    assert_ne!(after.etag, before.etag);
    let stale = t
        .hub
        .registry()
        .update(
            "d1",
            DeviceUpdate {
                status: Some(DeviceStatus::Enabled),
                ..Default::default()
            },
            Some(&before.etag),
        )
        .await;
    assert_eq!(stale.unwrap_err().code().number(), 412001);
    let quoted = format!("\"{}\"", after.etag);
    t.hub
        .registry()
        .update(
            "d1",
            DeviceUpdate {
                status: Some(DeviceStatus::Enabled),
                ..Default::default()
            },
            Some(&quoted),
        )
        .await
        .unwrap();
    assert_eq!(
        t.hub
            .registry()
            .delete("d1", Some(&before.etag))
            .await
            .unwrap_err()
            .code()
            .number(),
        412001
    );
    t.hub.registry().delete("d1", Some("*")).await.unwrap();
}

#[tokio::test]
async fn keys_can_be_given_or_regenerated_and_bad_keys_are_refused() {
    let t = TestHub::new().await;
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let d = t
        .hub
        .registry()
        .create(NewDevice {
            primary_key: Some(key.into()),
            ..NewDevice::named("d1")
        })
        .await
        .unwrap();
    assert_eq!(d.primary_key, key);
    let r = t
        .hub
        .registry()
        .regenerate_key("d1", KeyKind::Primary)
        .await
        .unwrap();
    assert_ne!(r.primary_key, key);
    assert_eq!(r.secondary_key, d.secondary_key);
    let bad = t
        .hub
        .registry()
        .create(NewDevice {
            primary_key: Some("short".into()),
            ..NewDevice::named("d2")
        })
        .await;
    assert_eq!(bad.unwrap_err().code().number(), 400004);
}

#[tokio::test]
async fn connection_strings_carry_the_hub_name_and_the_gateway() {
    let t = TestHub::with_settings(HubSettings {
        hub_name: "myhub.azure-devices.net".into(),
        ..HubSettings::default()
    })
    .await;
    t.device("d1").await;
    let d = t.hub.registry().get("d1").await.unwrap();
    let cs = t
        .hub
        .registry()
        .connection_string("d1", Some("localhost"))
        .await
        .unwrap();
    assert_eq!(
        cs,
        format!(
            "HostName=myhub.azure-devices.net;DeviceId=d1;SharedAccessKey={};GatewayHostName=localhost",
            d.primary_key
        )
    );
    let parsed = ConnectionString::parse(&cs).unwrap();

    // A token made the way the device SDK makes it from this string verifies.
    let se = t.hub.now().unix_seconds() + 3600;
    let token = sas::create(
        &format!("{}/devices/d1", parsed.host_name()),
        parsed.get("SharedAccessKey").unwrap(),
        None,
        se,
    )
    .unwrap();
    t.hub
        .authenticate_device("d1", &token, "http", None)
        .await
        .unwrap();

    let svc = t
        .hub
        .registry()
        .service_connection_string(None, Some("localhost:8443"))
        .unwrap();
    let svc = ConnectionString::parse(&svc).unwrap();
    assert_eq!(svc.get("SharedAccessKeyName"), Some("iothubowner"));
    assert_eq!(svc.host_name(), "localhost:8443");
}

#[tokio::test]
async fn service_tokens_are_checked_for_policy_permission_and_host() {
    let t = TestHub::with_settings(HubSettings {
        host_aliases: vec!["localhost:8443".into()],
        ..HubSettings::default()
    })
    .await;
    let se = t.hub.now().unix_seconds() + 600;
    let key = |name: &str| {
        t.hub
            .policies()
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .primary_key
            .clone()
    };
    // The service SDK signs `quote_plus(host)`: "localhost%3A8443".
    let owner = sas::create(
        "localhost:8443",
        &key("iothubowner"),
        Some("iothubowner"),
        se,
    )
    .unwrap();
    assert_eq!(
        t.hub
            .authenticate_service(&owner, Permission::ServiceConnect)
            .unwrap(),
        "iothubowner"
    );
    let reader = sas::create("localhost", &key("registryRead"), Some("registryRead"), se).unwrap();
    assert!(
        t.hub
            .authenticate_service(&reader, Permission::RegistryRead)
            .is_ok()
    );
    assert_eq!(
        t.hub
            .authenticate_service(&reader, Permission::ServiceConnect)
            .unwrap_err()
            .code()
            .number(),
        401003
    );
    let foreign = sas::create("other-hub", &key("iothubowner"), Some("iothubowner"), se).unwrap();
    assert!(
        t.hub
            .authenticate_service(&foreign, Permission::ServiceConnect)
            .is_err()
    );
    let no_skn = sas::create("localhost", &key("iothubowner"), None, se).unwrap();
    assert!(
        t.hub
            .authenticate_service(&no_skn, Permission::ServiceConnect)
            .is_err()
    );
}

#[tokio::test]
async fn the_queue_count_follows_the_mailbox() {
    let t = TestHub::new().await;
    t.device("d1").await;
    for _ in 0..3 {
        t.hub
            .mailbox()
            .send("d1", hublet_core::NewMessage::text("x"))
            .await
            .unwrap();
    }
    assert_eq!(
        t.hub
            .registry()
            .get("d1")
            .await
            .unwrap()
            .cloud_to_device_message_count,
        3
    );
    assert_eq!(
        t.hub.registry().list(DeviceQuery::default()).await.unwrap()[0]
            .cloud_to_device_message_count,
        3
    );
    let stats = t.hub.stats().await.unwrap();
    assert_eq!((stats.devices, stats.queued_messages), (1, 3));
}
