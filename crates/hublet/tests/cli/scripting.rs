//! What scripts rely on: every row of the exit-code table in docs/cli.md,
//! one JSON document per command with `--json` (errors and usage errors
//! included, in the API's error shape), values from files and standard
//! input, and the verbs `az iot` users reach for.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Served, bin};

/// Runs `args`, returning (exit code, stdout, stderr).
fn run(s: &Served, args: &[&str]) -> (i32, String, String) {
    let out = s.cli(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--json args`: exactly one JSON document on stdout, and the exit code.
fn one_doc(s: &Served, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, out, err) = run(s, &a);
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {out}\nstderr: {err}"));
    assert_eq!(docs.len(), 1, "{args:?}: one document, got {out}");
    (code, docs.into_iter().next().unwrap())
}

/// The error document has the API's shape and names its exit code.
fn assert_error_doc(v: &serde_json::Value, exit: i32) {
    let e = &v["error"];
    for k in ["code", "name", "message", "explanation", "exitCode"] {
        assert!(e.get(k).is_some(), "'{k}' missing in {v}");
    }
    assert_eq!(e["exitCode"], exit, "{v}");
    assert!(!e["explanation"].as_str().unwrap().is_empty(), "{v}");
}

#[test]
fn every_exit_code_in_the_table_is_what_the_cli_exits_with() {
    let s = Served::start();
    s.ok(&["device", "add", "d1"]);
    // 0: success.
    assert_eq!(run(&s, &["device", "show", "d1"]).0, 0);
    // 1: another failure (an export to a directory that does not exist).
    let (code, _, err) = run(&s, &["trace", "export", "--out", "/nonexistent/x.csv"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/nonexistent/x.csv"), "names the path: {err}");
    // 2: bad input, from the hub and from flags alike.
    for args in [
        &["send", "d1", "x", "--ttl", "0"][..],
        &["serve", "--durability", "fast"],
        &["serve", "--c2d-inflight", "0"],
        &["serve", "--mqtt", "nonsense"],
        &["device", "list", "--limit", "0"],
        &["invoke", "d1", "m", "--payload", "{oops"],
        &["no-such-command"],
    ] {
        let (code, _, err) = run(&s, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        let (code, v) = one_doc(&s, args);
        assert_eq!(code, 2, "{args:?} with --json");
        assert_error_doc(&v, 2);
    }
    // 3: not found: a device, a simulated device, a board.
    for args in [
        &["device", "show", "ghost"][..],
        &["sim", "stop", "ghost"],
        &["serial", "release", "ghost"],
    ] {
        let (code, v) = one_doc(&s, args);
        assert_eq!(code, 3, "{args:?}: {v}");
        assert_error_doc(&v, 3);
    }
    // 4: not online in time.
    assert_eq!(run(&s, &["invoke", "d1", "m"]).0, 4);
    // 5: the hub refuses the token.
    assert_eq!(run(&s, &["--token", "wrong", "device", "list"]).0, 5);
    // 7: conflict.
    assert_eq!(run(&s, &["device", "add", "d1"]).0, 7);
    // 8: the message ended negatively (purged while the sender waited).
    let waiting = std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(s.dir.path())
        .args([
            "--json",
            "send",
            "d1",
            "bye",
            "--ack",
            "full",
            "--wait-feedback",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    s.ok(&["purge", "d1"]);
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(8));
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs.len(), 1, "one document: {docs:?}");
    assert_eq!(docs[0]["feedback"]["statusCode"], "Purged");
    // 9: the device answered with an error status (a simulated device with
    // no such method answers 404); --any-status accepts it.
    s.ok(&["sim", "run", "thermostat", "--count", "1", "--prefix", "t"]);
    let (code, v) = one_doc(
        &s,
        &["invoke", "t-1", "noSuchMethod", "--connect-timeout", "30"],
    );
    assert_eq!(code, 9, "{v}");
    assert_eq!(v["status"], 404, "the result is still printed: {v}");
    assert_eq!(
        run(
            &s,
            &[
                "invoke",
                "t-1",
                "noSuchMethod",
                "--any-status",
                "--connect-timeout",
                "30"
            ]
        )
        .0,
        0
    );
    // 6: no hub.
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::new(bin())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--json", "device", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_error_doc(&v, 6);
    // 10: the database is damaged (a copy of the running hub's, cut short);
    // 0 for the healthy original, checked while the hub runs.
    let (code, v) = one_doc(&s, &["db", "check"]);
    assert_eq!((code, &v["ok"]), (0, &serde_json::json!(true)), "{v}");
    let copy = tempfile::tempdir().unwrap();
    let db = copy.path().join("hublet.db");
    std::fs::copy(s.dir.path().join("hublet.db"), &db).unwrap();
    let wal = s.dir.path().join("hublet.db-wal");
    if wal.exists() {
        std::fs::copy(&wal, copy.path().join("hublet.db-wal")).unwrap();
    }
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let out = assert_cmd::Command::new(bin())
        .arg("--data-dir")
        .arg(copy.path())
        .args(["--json", "db", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["advice"].as_str().unwrap().contains(".recover"), "{v}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the check changed the file"
    );
}

#[test]
fn commands_print_one_document_with_json_and_read_values_from_files() {
    let s = Served::start();
    let (code, v) = one_doc(&s, &["device", "add", "d1"]);
    assert_eq!(code, 0);
    assert_eq!(v["deviceId"], "d1");
    s.ok(&["sim", "run", "thermostat", "--count", "1", "--prefix", "t"]);
    let (code, v) = one_doc(&s, &["sim", "stop", "t-1"]);
    assert_eq!((code, &v["deviceIds"][0]), (0, &serde_json::json!("t-1")));

    // A body from a file (any bytes) and from standard input.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.bin");
    std::fs::write(&file, [0u8, 159, 146, 150]).unwrap();
    let (_, sent) = one_doc(&s, &["send", "d1", &format!("@{}", file.display())]);
    assert_eq!(sent["bodyBase64"], "AJ+Slg==", "{sent}");
    let mut child = s.cli(&["--json", "send", "d1", "-"]);
    let out = child.write_stdin("from stdin").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bodyText"], "from stdin");

    // The device's side over HTTP: receive, then settle by lock token.
    let (_, m) = one_doc(&s, &["c2d", "receive", "d1"]);
    let lock = m["lockToken"].as_str().unwrap().to_string();
    assert_eq!(m["body"].as_str().unwrap().as_bytes()[0], 0, "{m}");
    let (code, _) = one_doc(&s, &["c2d", "abandon", "d1", &lock]);
    assert_eq!(code, 0);
    let (_, again) = one_doc(&s, &["c2d", "receive", "d1", "--settle", "complete"]);
    assert_eq!(again["deliveryCount"], "1", "abandoned once: {again}");
    let (_, next) = one_doc(&s, &["c2d", "receive", "d1", "--settle", "reject"]);
    assert_eq!(next["body"], "from stdin");
    let (_, none) = one_doc(&s, &["c2d", "receive", "d1"]);
    assert!(none.is_null(), "an empty queue: {none}");

    // SAS tokens the SDKs would make, a new key, and settings.
    let (_, t) = one_doc(&s, &["sas", "device", "d1", "--duration", "2h"]);
    assert!(
        t["token"]
            .as_str()
            .unwrap()
            .starts_with("SharedAccessSignature sr=localhost%2Fdevices%2Fd1&sig=")
    );
    let (_, t) = one_doc(&s, &["sas", "service", "--policy", "service"]);
    assert!(t["token"].as_str().unwrap().ends_with("&skn=service"));
    let before =
        s.json(&["device", "show", "d1"])["authentication"]["symmetricKey"]["primaryKey"].clone();
    let (_, d) = one_doc(&s, &["device", "regenerate-key", "d1"]);
    assert_ne!(d["authentication"]["symmetricKey"]["primaryKey"], before);
    let (_, on) = one_doc(&s, &["settings", "set", "openBench", "true"]);
    assert_eq!(on["openBench"], true);
    let (_, off) = one_doc(&s, &["settings", "set", "openBench", "false"]);
    assert_eq!(off["openBench"], false);
    let (code, v) = one_doc(&s, &["settings", "set", "queueCap", "0"]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["info"]["field"], "queueCap");

    // A payload from a file, and --hub without a scheme.
    let payload = dir.path().join("p.json");
    std::fs::File::create(&payload)
        .unwrap()
        .write_all(b"{\"a\": 1}")
        .unwrap();
    let api = s.hub_json()["api"].as_str().unwrap().to_string();
    let bare = api.trim_start_matches("http://");
    let token = std::fs::read_to_string(s.dir.path().join("api-token")).unwrap();
    let out = assert_cmd::Command::new(bin())
        .args([
            "--hub",
            bare,
            "--token",
            token.trim(),
            "--json",
            "device",
            "list",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, v) = one_doc(
        &s,
        &[
            "invoke",
            "d1",
            "m",
            "--payload",
            &format!("@{}", payload.display()),
        ],
    );
    assert_eq!(code, 4, "the payload was read; the device is offline: {v}");
}

#[test]
fn lists_say_when_they_are_cut_and_filters_that_match_nothing_say_so() {
    let s = Served::start();
    for i in 1..=3 {
        s.ok(&["device", "add", &format!("lab-{i}")]);
    }
    let out = s.ok(&["device", "list", "--limit", "2"]);
    assert!(out.contains("only the first 2 devices"), "{out}");
    assert!(!s.ok(&["device", "list"]).contains("only the first"));
    assert!(
        s.ok(&["device", "list", "--search", "zzz"])
            .contains("no device id contains 'zzz'")
    );
    let (code, _, err) = run(&s, &["trace", "--device", "nope", "--kind", "nosuchkind"]);
    assert_eq!(code, 0);
    assert!(err.contains("no device 'nope'"), "{err}");
    assert!(
        err.contains("'nosuchkind'") && err.contains("c2d.enqueued"),
        "lists the kinds: {err}"
    );
}

#[test]
fn completions_load_in_bash_and_man_pages_are_written() {
    let out = assert_cmd::Command::new(bin())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p hublet",
            script.path().display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("hublet"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::new(bin())
        .arg("man")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for page in ["hublet.1", "hublet-send.1", "hublet-serial-bind.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
}
