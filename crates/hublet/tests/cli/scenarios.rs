//! `hublet test`: scenarios against a real hub, their exit codes, JSON and
//! JUnit output. The examples in examples/scenarios run in tests/run-all.sh
//! against `serve --demo`, with the JUnit report checked against its XSD.

use std::path::Path;

use crate::support::Served;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const FAILING: &str = r#"version = 1
name = "thermostat runs hot"

[[devices]]
id = "qa-hot-1"
kind = "simulated"
profile = "thermostat"
online = true

[[steps]]
do = "invoke"
device = "qa-hot-1"
method = "getTemperature"
expect = { status = 200, paths = [{ path = "$.temperature", gt = 1000 }] }

[[steps]]
do = "send"
device = "qa-hot-1"
body = "never sent"
"#;

#[test]
fn a_failing_step_fails_the_run_and_the_reports_name_it() {
    let s = Served::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hot.toml", FAILING);
    let junit = dir.path().join("out/report.xml");
    let out = s
        .cli(&[
            "test",
            &file,
            "--junit",
            junit.to_str().unwrap(),
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  thermostat runs hot"), "{stdout}");
    assert!(
        stdout.contains("hot.toml:10"),
        "the failing step's line: {stdout}"
    );
    assert!(
        stdout.contains("expected: $.temperature > 1000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(seed 7, recorded as batch cli-"),
        "{stdout}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="1""#) && xml.contains(r#"failures="1""#),
        "{xml}"
    );
    assert!(xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains("invoke getTemperature on qa-hot-1 (line 10)"),
        "{xml}"
    );
    // The failing call's story from the hub's trace is attached.
    assert!(
        xml.contains("method.invoked") && xml.contains("method.responded"),
        "{xml}"
    );

    // --json: the same run as one document; the step after the failure is skipped.
    let out = s
        .cli(&["--json", "test", &file, "--seed", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = &v["cases"][0];
    assert_eq!(case["verdict"], "failed", "{case:#}");
    assert_eq!(case["seed"], 7);
    let kinds: Vec<(&str, &str)> = case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("device", "passed"),
            ("invoke", "failed"),
            ("send", "skipped")
        ]
    );
    assert!(
        case["steps"][1]["story"].is_string(),
        "the call's request id"
    );
    assert!(case["traceTo"].as_i64() > case["traceFrom"].as_i64());
    // Both runs are recorded in the hub, newest first, with their steps.
    let runs = s.json(&["runs"]);
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs:#}");
    assert_eq!(runs[0]["verdict"], "failed");
    assert_eq!(runs[0]["record"]["steps"][1]["kind"], "invoke");
    let id = case["runId"].as_i64().expect("the case's record id");
    assert_eq!(runs[0]["id"], id);
    let shown = s.ok(&["runs", &id.to_string()]);
    assert!(shown.contains("expected $.temperature > 1000"), "{shown}");
    // Nothing was sent: the queue is empty. The simulated device the
    // scenario started was stopped again.
    let q = s.json(&["queue", "qa-hot-1"]);
    assert_eq!(q.as_array().map(Vec::len), Some(0), "{q}");
    let sims = s.json(&["sim", "list"]);
    assert_eq!(sims.as_array().map(Vec::len), Some(0), "{sims}");
}

#[test]
fn a_bad_file_is_refused_with_its_line_before_anything_runs() {
    let s = Served::start();
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "a-good.toml",
        "version = 1\nname = \"g\"\n[[devices]]\nid = \"qa-untouched\"\nkind = \"simulated\"\nprofile = \"thermostat\"\n[[steps]]\ndo = \"wait\"\ntime = \"1ms\"\n",
    );
    let bad = write(
        dir.path(),
        "b-bad.toml",
        "version = 1\nname = \"b\"\n\n[[steps]]\ndo = \"send\"\ndevice = \"x\"\nbdoy = \"typo\"\n",
    );
    let out = s.cli(&["test", &good, &bad]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b-bad.toml:4:1"), "{err}");
    assert!(
        err.contains("unknown field `bdoy`") && err.contains("expected one of"),
        "{err}"
    );
    // The good file did not run either: its simulated device never existed.
    s.cli(&["device", "show", "qa-untouched"]).assert().code(3);
}

#[test]
fn matrix_rows_are_cases_and_the_filter_picks_among_them() {
    let s = Served::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "m.toml",
        "version = 1\nname = \"m\"\n[matrix]\nack = [\"full\", \"none\"]\nsize = [1, 2, 3]\n[[steps]]\ndo = \"set\"\nvars = { x = \"{{ack}}{{size}}\" }\n",
    );
    let all = s.json(&["test", &file, "--list"]);
    assert_eq!(all.as_array().unwrap().len(), 6, "{all}");
    assert_eq!(all[0]["name"], "m [ack=full, size=1]");
    let some = s.json(&["test", &file, "--list", "--filter", "ACK=NONE"]);
    assert_eq!(some.as_array().unwrap().len(), 3, "{some}");
    let run = s.json(&["test", &file, "--jobs", "3"]);
    assert_eq!(
        (run["passed"].as_u64(), run["failed"].as_u64()),
        (Some(6), Some(0))
    );
    s.cli(&["test", &file, "--filter", "nothing like it"])
        .assert()
        .code(2);
}

/// Every fault step a simulated device takes, end to end: the example
/// starts its own simulated thermostat, so any hub will do.
#[test]
fn the_fault_example_passes() {
    let s = Served::start();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/faults.toml");
    let run = s.json(&["test", example.to_str().unwrap()]);
    assert_eq!(run["passed"], 1, "{run:#}");
    let trace = s.ok(&["trace", "--device", "qa-thermostat", "--kind", "sim.action"]);
    for fault in ["unresponsive", "disconnect", "resume", "drop_link"] {
        assert!(
            trace.contains(&format!("fault injected: {fault}")),
            "{trace}"
        );
    }
}

const REPLAY: &str = r#"version = 1
name = "thermostat calls"

[vars]
device = "orig-1"

[[devices]]
id = "{{device}}"
kind = "simulated"
profile = "thermostat"
online = true

[[steps]]
do = "repeat"
times = 3
steps = [{ do = "invoke", device = "{{device}}", method = "getTemperature" }]

[[steps]]
do = "invoke"
device = "{{device}}"
method = "setSetpoint"
payload = { setpoint = 22 }
expect = { payload = { accepted = 22 } }

[[steps]]
do = "send"
device = "{{device}}"
body = "hello"
ack = "full"

[[steps]]
do = "expect_feedback"
status = "Success"
"#;

/// The replay round trip: record a thermostat's run, turn its trace into a
/// profile, run the same scenario against a simulated device of that
/// profile, and the two runs' traces are the same within tolerance.
#[test]
fn a_recorded_device_replays_the_same_run() {
    let s = Served::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "replay.toml", REPLAY);
    // A: the "real" device (a thermostat the scenario starts; kept running
    // so its whole session is in the trace).
    s.ok(&["sim", "run", "thermostat", "--prefix", "orig"]);
    let a = s.json(&["test", &file, "--var", "device=\"orig-1\""]);
    assert_eq!(a["passed"], 1, "{a:#}");
    let run_a = a["cases"][0]["runId"].as_i64().unwrap();

    let profile = dir.path().join("orig.toml");
    let out = s.ok(&["sim", "record", "orig-1", "-o", profile.to_str().unwrap()]);
    assert!(out.contains("wrote profile 'orig-1-replay'"), "{out}");
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(
        text.contains("[[methods.getTemperature.replies]]"),
        "{text}"
    );
    assert!(text.contains("action = \"complete\""), "{text}");
    s.ok(&["sim", "stop", "orig-1"]);

    // B: the replay, started from the recorded profile.
    s.ok(&[
        "sim",
        "run",
        profile.to_str().unwrap(),
        "--prefix",
        "replay",
    ]);
    let b = s.json(&["test", &file, "--var", "device=replay-1"]);
    assert_eq!(b["passed"], 1, "{b:#}");
    let run_b = b["cases"][0]["runId"].as_i64().unwrap();

    let (ra, rb) = (format!("run:{run_a}"), format!("run:{run_b}"));
    let out = s
        .cli(&[
            "trace",
            "diff",
            &ra,
            &rb,
            "--time-tolerance",
            "250ms",
            "--all",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("= device 1 · method getTemperature #3 (orig-1 / replay-1)"),
        "{stdout}"
    );
    assert!(stdout.contains("0 of 5 compared steps differ"), "{stdout}");

    // And a run that differs is said to: the replay against the real thermostat.
    let c = s.json(&["test", &file, "--var", "device=orig-2"]);
    let run_c = c["cases"][0]["runId"].as_i64().unwrap();
    let out = s
        .cli(&["--json", "trace", "diff", &ra, &format!("run:{run_c}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(d["differing"].as_u64().unwrap() >= 1, "{d:#}");
    // The payloads are compared field by field: each reply carries its own
    // timestamp (always later in run C), while two sine readings may round
    // to the same value, so only the timestamp is certain to differ.
    let differences = d["lines"].to_string();
    assert!(
        differences.contains("payload $.at"),
        "the replies' fresh payloads differ: {d:#}"
    );
}

const LIBRARY: &str = r#"
[[command]]
name = "set-point"
description = "Set the thermostat's setpoint"
kind = "method"
method = "setSetpoint"
payload = { setpoint = "{{sp}}" }
vars = { sp = 21 }

[[command]]
name = "led"
kind = "c2d"
body = { led = "{{state}}" }
properties = { for = "{{device}}" }
ack = "full"
"#;

/// The command library: imported, listed, run from the CLI with variables,
/// used as a scenario step, exported and deleted.
#[test]
fn the_command_library_is_shared_by_the_cli_and_scenarios() {
    let s = Served::start();
    let dir = tempfile::tempdir().unwrap();
    let lib = write(dir.path(), "lib.toml", LIBRARY);
    s.ok(&["sim", "run", "thermostat", "--prefix", "lib"]);
    assert!(s.ok(&["commands", "import", &lib]).contains("2 command(s)"));
    let listed = s.ok(&["commands", "list"]);
    assert!(
        listed.contains("set-point")
            && listed.contains("method setSetpoint")
            && listed.contains("vars: sp"),
        "{listed}"
    );
    // The file in the data directory is the library.
    assert!(
        std::fs::read_to_string(s.dir.path().join("commands.toml"))
            .unwrap()
            .contains("name = \"led\"")
    );

    let r = s.json(&["run", "set-point", "--device", "lib-1", "--set", "sp=23"]);
    assert_eq!(r["payload"]["accepted"], 23, "{r}");
    let r = s.json(&["run", "set-point", "--device", "lib-1"]);
    assert_eq!(r["payload"]["accepted"], 21, "the default: {r}");
    s.cli(&["run", "led", "--device", "lib-1"]).assert().code(2); // {{state}} has no value
    let m = s.json(&["run", "led", "--device", "lib-1", "--set", "state=on"]);
    assert_eq!(m["properties"]["for"], "lib-1");
    assert_eq!(m["bodyText"], r#"{"led":"on"}"#);
    s.cli(&["run", "nope", "--device", "lib-1"])
        .assert()
        .code(3);

    let scenario = write(
        dir.path(),
        "uses.toml",
        r#"version = 1
name = "uses the library"
[[steps]]
do = "command"
command = "set-point"
device = "lib-1"
vars = { sp = 19 }
expect = { payload = { accepted = 19 } }
capture = { took = "$.accepted" }
[[steps]]
do = "command"
command = "led"
device = "lib-1"
vars = { state = "off-{{took}}" }
[[steps]]
do = "expect_feedback"
status = "Success"
"#,
    );
    let out = s.cli(&["--json", "test", &scenario]).output().unwrap();
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["passed"], 1, "{run:#}");

    let exported = s.ok(&["commands", "export"]);
    assert!(
        exported.contains("[[command]]") && exported.contains("name = \"set-point\""),
        "{exported}"
    );
    s.ok(&["commands", "rm", "led"]);
    assert!(!s.ok(&["commands", "list"]).contains("led "));
    s.cli(&["commands", "rm", "led"]).assert().code(3);
    let bad = write(
        dir.path(),
        "bad.toml",
        "[[command]]\nname = \"x\"\nkind = \"method\"\nmethod = \"m\"\npayolad = 1\n",
    );
    let out = s.cli(&["commands", "import", &bad]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `payolad`"));
}

/// `--serve`: the run starts its own hub, may restart it, and stops it; a
/// restart against a hub the run does not own is an error of the scenario.
#[test]
fn a_run_with_its_own_hub_can_crash_and_restart_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/hub-restart.toml");
    let out = assert_cmd::Command::new(crate::support::bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["--json", "test", "--serve", example.to_str().unwrap()])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["passed"], 1, "{run:#}");
    // The hub is gone again (a clean stop removes its hub.json).
    assert!(!data.join("hub.json").exists());

    let s = Served::start();
    let out = s
        .cli(&["--json", "test", example.to_str().unwrap()])
        .output()
        .unwrap();
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["cases"][0]["verdict"], "error", "{run:#}");
    let crash = &run["cases"][0]["steps"][3];
    assert_eq!(crash["kind"], "fault");
    assert!(
        crash["message"]
            .as_str()
            .unwrap()
            .contains("hublet test --serve"),
        "{crash}"
    );
}
