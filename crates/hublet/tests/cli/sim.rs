//! `hublet sim …` and `serve --demo` against a real hub.

use std::time::{Duration, Instant};

use crate::support::Served;

fn wait_online(s: &Served, n: usize) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let list = s.json(&["sim", "list"]);
        if list
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["state"] == "online")
            .count()
            >= n
        {
            return list;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "simulated devices did not come online: {list}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sim_run_list_stop_and_a_profile_from_a_file() {
    let s = Served::start();
    let out = s.ok(&[
        "sim",
        "run",
        "thermostat",
        "--count",
        "3",
        "--prefix",
        "room",
        "--seed",
        "5",
    ]);
    assert!(out.contains("started 3 simulated device(s)"), "{out}");
    let list = wait_online(&s, 3);
    assert_eq!(list[0]["deviceId"], "room-1");
    let dev = s.json(&["device", "show", "room-2"]);
    assert_eq!(dev["kind"], "simulated");
    let r = s.json(&[
        "invoke",
        "room-1",
        "setSetpoint",
        "--payload",
        "{\"setpoint\":19}",
    ]);
    assert_eq!(r["payload"]["accepted"], 19);

    let file = s.dir.path().join("blinker.toml");
    std::fs::write(
        &file,
        "name = \"blinker\"\ndescription = \"echoes\"\n[methods.default]\necho = true\n",
    )
    .unwrap();
    s.ok(&["sim", "run", file.to_str().unwrap()]);
    wait_online(&s, 4);
    let r = s.json(&["invoke", "blinker-1", "anything", "--payload", "[1,2]"]);
    assert_eq!(r["payload"], serde_json::json!([1, 2]));
    let profiles = s.json(&["sim", "profiles"]);
    assert!(
        profiles
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "blinker" && p["builtin"] == false)
    );

    s.ok(&["sim", "stop", "room-3"]);
    assert_eq!(s.json(&["sim", "list"]).as_array().unwrap().len(), 3);
    let bad = s.cli(&["sim", "run", "no-such-profile"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(s.json(&["sim", "stop", "--all"])["stopped"], 3);
}

#[test]
fn serve_demo_starts_a_fleet_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = crate::support::serve(dir.path());
    c.arg("--demo");
    let mut s = Served {
        child: c.spawn().unwrap(),
        dir,
    };
    s.wait_ready();
    let list = wait_online(&s, 6);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["deviceId"].as_str().unwrap())
        .collect();
    for want in [
        "thermostat-1",
        "thermostat-2",
        "door-lock-1",
        "sleepy-sensor-1",
        "flaky-link-1",
        "unresponsive-1",
    ] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    let e = s
        .cli(&[
            "invoke",
            "unresponsive-1",
            "ping",
            "--response-timeout",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(
        e.status.code(),
        Some(4),
        "504101 from the device that never answers"
    );
    let boards = s.json(&["serial", "list"])["boards"].clone();
    assert_eq!(
        boards[0]["deviceId"], "demo-board",
        "the demo has an emulated serial board"
    );
    let r = s.json(&["invoke", "demo-board", "echo", "--payload", "{\"hi\":true}"]);
    assert_eq!(r["payload"]["hi"], true);
    assert!(s.stop().success());
    s.restart();
    wait_online(&s, 6);
    let boards = s.json(&["serial", "list"])["boards"].clone();
    assert!(
        boards.as_array().unwrap().is_empty(),
        "the demo board's binding goes with the demo: {boards}"
    );
}
