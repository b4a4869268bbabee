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
    assert!(e.to_string().contains("not a SQLite database"), "{e}");
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

/// A hub database with enough rows to span many pages, closed cleanly.
async fn filled_database(path: &Path) {
    let hub = open(path).await.unwrap();
    hub.registry()
        .create(hublet_core::NewDevice::named("d1"))
        .await
        .unwrap();
    for i in 0..40 {
        hub.mailbox()
            .send("d1", hublet_core::NewMessage::text("x".repeat(1000 + i)))
            .await
            .unwrap();
    }
    hub.close().await.unwrap();
    drop(hub);
}

#[tokio::test]
async fn a_database_cut_short_is_refused_with_what_to_do_and_left_untouched() {
    for cut in [1u64, 17, 100, 4096, 8192 + 10] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        filled_database(&path).await;
        assert!(
            hublet_core::check_database(&path, hublet_core::CheckDepth::Full)
                .unwrap()
                .ok
        );
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - cut)
            .unwrap();
        let before = digest(&path);
        let e = match open(&path).await {
            Ok(_) => panic!("cut {cut} of {len} bytes: the hub opened the file"),
            Err(e) => e,
        };
        let text = e.to_string();
        assert!(text.contains("is damaged"), "cut {cut}: {text}");
        assert!(text.contains(".recover"), "cut {cut}: {text}");
        assert!(text.contains("not modified"), "cut {cut}: {text}");
        assert_eq!(digest(&path), before, "cut {cut}: the file changed");
        let report = hublet_core::check_database(&path, hublet_core::CheckDepth::Full).unwrap();
        assert!(!report.ok, "cut {cut}");
        assert!(!report.problems.is_empty());
        assert!(report.advice.contains("backup"));
        assert_eq!(
            digest(&path),
            before,
            "cut {cut}: the check changed the file"
        );
    }
}

#[tokio::test]
async fn a_full_disk_is_named_as_such_and_loses_nothing_already_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let capped = |p: &Path| {
        Hub::open(
            HubOptions::new(p)
                .clock(ManualClock::at_2030().shared())
                .background_tasks(false)
                .max_database_pages(120),
        )
    };
    let hub = capped(&path).await.unwrap();
    hub.registry()
        .create(hublet_core::NewDevice::named("d1"))
        .await
        .unwrap();
    assert!(hub.storage_problem().is_none());
    let mut accepted = Vec::new();
    let full = loop {
        match hub
            .mailbox()
            .send("d1", hublet_core::NewMessage::text("y".repeat(4000)))
            .await
        {
            Ok(m) => accepted.push(m.message_id),
            Err(e) => break e,
        }
        assert!(accepted.len() < 1000, "the cap never filled");
    };
    assert_eq!(full.code().number(), 507001, "{full}");
    assert_eq!(full.code().name(), "DiskFull");
    let text = full.to_string();
    assert!(text.contains("is full"), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    let problem = hub.storage_problem().expect("the problem is shown");
    assert_eq!(problem.code, 507001);
    assert!(problem.message.contains("Free space"));
    hub.close().await.unwrap();
    drop(hub);
    // Nothing the hub accepted was lost.
    let hub = open(&path).await.unwrap();
    let queued: Vec<String> = hub
        .mailbox()
        .list("d1")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(queued, accepted);
}
