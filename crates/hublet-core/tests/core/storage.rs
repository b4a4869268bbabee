//! Opening storage safely: foreign files, newer schemas, a second hub.

use std::path::Path;

use hublet_core::{Hub, HubOptions, HubSettings, ManualClock};

fn digest(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

async fn open(path: &Path) -> hublet_core::HubResult<Hub> {
    Hub::open(
        HubOptions::new(path)
            .clock(ManualClock::at_2030().shared())
            .background_tasks(false),
    )
    .await
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, b"these are my notes, not a database\n".repeat(100)).unwrap();
    let before = digest(&path);
    let e = open(&path).await.unwrap_err();
    assert!(e.to_string().contains("not modified"), "{e}");
    assert_eq!(e.code().number(), 500001);
    assert_eq!(digest(&path), before);
    assert!(!dir.path().join("notes.db-wal").exists());
}

#[tokio::test]
async fn another_applications_sqlite_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada');")
            .unwrap();
    }
    let before = digest(&path);
    let e = open(&path).await.unwrap_err();
    assert!(e.to_string().contains("not a Hublet one"), "{e}");
    assert_eq!(digest(&path), before);
}

#[tokio::test]
async fn a_database_from_a_newer_hublet_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    open(&path).await.unwrap().close().await.unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA user_version = 999;")
            .unwrap();
    }
    let before = digest(&path);
    let e = open(&path).await.unwrap_err();
    assert!(e.to_string().contains("newer Hublet"), "{e}");
    assert_eq!(digest(&path), before);
}

#[tokio::test]
async fn a_second_hub_on_the_same_data_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let first = open(&path).await.unwrap();
    let e = open(&path).await.unwrap_err();
    assert!(e.to_string().contains("already running"), "{e}");
    first.close().await.unwrap();
    drop(first);
    open(&path)
        .await
        .expect("free again once the first hub is gone");
}

#[tokio::test]
async fn settings_and_policies_persist_and_invalid_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let hub = open(&path).await.unwrap();
    let keys: Vec<String> = hub
        .policies()
        .iter()
        .map(|p| p.primary_key.clone())
        .collect();
    let names: Vec<String> = hub.policies().iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        names,
        [
            "device",
            "iothubowner",
            "registryRead",
            "registryReadWrite",
            "service"
        ]
    );
    let s = HubSettings {
        hub_name: "bench.local".into(),
        queue_cap: 7,
        ..HubSettings::default()
    };
    hub.update_settings(s.clone()).await.unwrap();
    let bad = HubSettings {
        lock_timeout_secs: 0,
        ..HubSettings::default()
    };
    assert_eq!(
        hub.update_settings(bad).await.unwrap_err().code().number(),
        400004
    );
    hub.close().await.unwrap();
    drop(hub);
    let hub = open(&path).await.unwrap();
    assert_eq!(*hub.settings(), s);
    assert_eq!(
        hub.policies()
            .iter()
            .map(|p| p.primary_key.clone())
            .collect::<Vec<_>>(),
        keys
    );
}
