//! QA run records: what `hublet test` and the app's Scenarios screen found,
//! one record per case (a scenario with one row of its matrix), kept in the
//! hub so every client lists the same history.
//!
//! The engine does not read scenarios: a record is the runner's JSON (its
//! steps, timings, expected and actual, trace id range) plus the few
//! columns lists filter on. A case being run is a record with verdict
//! `running`, updated as its steps end, so a screen can follow it.

pub(crate) mod table;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};
use crate::hub::Hub;

/// Records kept; older ones are deleted as new ones come.
pub const KEEP: i64 = 5_000;
/// Longest list answered at once.
pub const MAX_LIST: usize = 500;

/// One case's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRun {
    /// Its id (increasing).
    pub id: i64,
    /// The run it belongs to (every case of one `hublet test` or one click
    /// of Run shares it).
    pub batch: String,
    /// The case's name (`scenario [k=v]`).
    pub name: String,
    /// `running`, `passed`, `failed` or `error`.
    pub verdict: String,
    /// When it was recorded.
    pub started: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// The runner's whole record.
    pub record: serde_json::Value,
}

/// The run records, reached through [`Hub::test_runs`].
pub struct TestRuns<'a> {
    pub(crate) hub: &'a Hub,
}

fn check(batch: &str, name: &str, verdict: &str) -> HubResult<()> {
    if batch.is_empty() || batch.len() > 128 || name.is_empty() || name.len() > 1024 {
        return Err(HubError::invalid(
            "a test run needs a batch (1-128 characters) and a name (1-1024)",
        ));
    }
    if !["running", "passed", "failed", "error"].contains(&verdict) {
        return Err(HubError::invalid(format!(
            "verdict '{verdict}' is not running, passed, failed or error"
        )));
    }
    Ok(())
}

impl TestRuns<'_> {
    /// Records a case; returns its id.
    pub async fn add(
        &self,
        batch: &str,
        name: &str,
        verdict: &str,
        record: serde_json::Value,
    ) -> HubResult<i64> {
        check(batch, name, verdict)?;
        let (batch, name, verdict) = (batch.to_string(), name.to_string(), verdict.to_string());
        self.hub
            .inner
            .db
            .write(move |ctx| {
                table::insert(ctx.conn, &batch, &name, &verdict, &record, ctx.now, KEEP)
            })
            .await
    }

    /// Replaces a case's verdict and record (as it runs); false when there
    /// is no such record (deleted as old, or never made).
    pub async fn update(
        &self,
        id: i64,
        verdict: &str,
        record: serde_json::Value,
    ) -> HubResult<bool> {
        check("-", "-", verdict)?;
        let verdict = verdict.to_string();
        self.hub
            .inner
            .db
            .write(move |ctx| table::update(ctx.conn, id, &verdict, &record, ctx.now))
            .await
    }

    /// One record, if it exists.
    pub async fn get(&self, id: i64) -> HubResult<Option<TestRun>> {
        self.hub
            .inner
            .db
            .read(move |conn| table::get(conn, id))
            .await
    }

    /// The newest records first (of one batch, before an id), at most `limit`.
    pub async fn list(
        &self,
        batch: Option<String>,
        before: Option<i64>,
        limit: usize,
    ) -> HubResult<Vec<TestRun>> {
        let limit = limit.clamp(1, MAX_LIST);
        self.hub
            .inner
            .db
            .read(move |conn| table::list(conn, batch.as_deref(), before, limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::{Hub, HubOptions};

    #[tokio::test]
    async fn records_are_added_updated_listed_newest_first_and_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        let hub = Hub::open(HubOptions::new(dir.path().join("hub.db")))
            .await
            .expect("hub");
        let runs = hub.test_runs();
        let a = runs
            .add("b1", "case a", "running", serde_json::json!({"steps": []}))
            .await
            .expect("add");
        let b = runs
            .add("b1", "case b", "passed", serde_json::json!({}))
            .await
            .expect("add");
        runs.add("b2", "case c", "failed", serde_json::json!({}))
            .await
            .expect("add");
        assert!(
            runs.update(a, "failed", serde_json::json!({"steps": [1]}))
                .await
                .expect("update")
        );
        assert!(
            !runs
                .update(999, "failed", serde_json::json!({}))
                .await
                .expect("update")
        );
        let got = runs.get(a).await.expect("get").expect("exists");
        assert_eq!(
            (got.verdict.as_str(), got.record["steps"][0].as_i64()),
            ("failed", Some(1))
        );
        let b1: Vec<i64> = runs
            .list(Some("b1".into()), None, 10)
            .await
            .expect("list")
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(b1, vec![b, a]);
        assert_eq!(runs.list(None, Some(b), 10).await.expect("list").len(), 1);
        assert!(
            runs.add("b", "n", "maybe", serde_json::json!({}))
                .await
                .is_err()
        );
        assert!(
            runs.add("", "n", "passed", serde_json::json!({}))
                .await
                .is_err()
        );
    }
}
