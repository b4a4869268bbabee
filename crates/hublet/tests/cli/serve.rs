//! `hublet serve`: start, report, refuse a second hub, stop cleanly.

use std::io::Read;

use crate::support::{Served, serve};

#[test]
fn serve_prints_its_listeners_refuses_a_second_hub_and_stops_on_sigterm() {
    let mut s = Served::start();
    let info = s.hub_json();
    assert!(
        info["api"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(info["mqtts"].is_string());

    let second = serve(s.dir.path()).output().unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already running"), "{err}");

    s.ok(&["device", "add", "keeper"]);
    let mut stdout = s.child.stdout.take().unwrap();
    let status = s.stop();
    assert!(status.success(), "serve exits 0 on SIGTERM");
    let mut banner = String::new();
    stdout.read_to_string(&mut banner).unwrap();
    for word in ["database", "mqtt", "mqtts", "api", "https", "CA", "token"] {
        assert!(banner.contains(word), "banner lacks {word}: {banner}");
    }
    assert!(
        !s.dir.path().join("hub.json").exists(),
        "hub.json is removed on exit"
    );

    // The data survives and a new hub can open it.
    s.restart();
    let list = s.json(&["device", "list"]);
    assert_eq!(list[0]["deviceId"], "keeper");
}

#[test]
fn commands_without_a_hub_say_so_and_exit_6() {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::new(crate::support::bin())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["device", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no hub is running"));
}
