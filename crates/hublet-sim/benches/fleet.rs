//! A fleet of simulated devices brought online against a hub in the same
//! process, as `hublet serve` runs them.
//!
//! ```text
//! cargo bench -p hublet-sim --bench fleet -- [--count 1000] [--profile thermostat] [--run-secs 30]
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use hublet_api::{ApiServer, AppState, SecurityConfig, ServerFacts};
use hublet_core::{Hub, HubOptions, HubSettings};
use hublet_mqtt::{Gateway, GatewayConfig};
use hublet_sim::{FleetRequest, Simulator, Target};

fn arg(name: &str) -> Option<String> {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .cloned()
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let _ = rlimit::increase_nofile_limit(1 << 20);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let count: usize = arg("--count").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let profile = arg("--profile").unwrap_or_else(|| "thermostat".into());
    let run_secs: u64 = arg("--run-secs").and_then(|v| v.parse().ok()).unwrap_or(30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(HubOptions::new(dir.path().join("fleet.db")).settings(HubSettings::default())).await.unwrap();
        let gw = Gateway::start(hub.clone(), GatewayConfig { tcp: Some("127.0.0.1:0".parse().unwrap()), ..GatewayConfig::default() })
            .await
            .unwrap();
        let state = AppState::new(hub.clone(), "b".into(), SecurityConfig::default(), ServerFacts::default());
        let api = ApiServer::start(state, Some("127.0.0.1:0".parse().unwrap()), None, hublet_api::Limits::default()).await.unwrap();
        let sim = Simulator::new(
            hub.clone(),
            Target { mqtt: gw.tcp_addr().unwrap(), tls: None, http: Some(format!("http://{}", api.http_addr().unwrap())) },
            None,
        );
        let before = rss_mb();
        let start = Instant::now();
        sim.start(FleetRequest { profile: profile.clone(), count: Some(count), prefix: Some("fleet".into()), seed: Some(1), persist: false, ids: Vec::new() })
            .await
            .unwrap();
        let registered = start.elapsed();
        loop {
            let online = sim.list().iter().filter(|s| s.state == "online").count();
            if online == count && hub.stats().await.unwrap().connected as usize == count {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(300), "only {online} of {count} online");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let online_in = start.elapsed();
        let rss_online = rss_mb();
        let cpu0 = cpu_secs();
        tokio::time::sleep(Duration::from_secs(run_secs)).await;
        let cpu = (cpu_secs() - cpu0) / run_secs as f64 * 100.0;
        let telemetry: u64 = sim.list().iter().map(|s| s.telemetry_sent).sum();
        println!(
            "fleet of {count} '{profile}' devices: registered in {:.2} s, all online in {:.2} s; process RSS {:.0} MB before, {:.0} MB online ({:.1} KB per device), {:.0} MB after {run_secs} s; CPU {:.0} % of one core while running ({telemetry} telemetry messages)",
            registered.as_secs_f64(),
            online_in.as_secs_f64(),
            before,
            rss_online,
            (rss_online - before) * 1024.0 / count as f64,
            rss_mb(),
            cpu,
        );
        sim.shutdown().await;
        gw.shutdown().await;
        api.shutdown().await;
        hub.close().await.unwrap();
    });
}
