// Desktop app benchmark: cold start to an interactive window, memory of the
// whole app (the Tauri process, its WebKit processes, the hub inside) idle
// and with 1,000 simulated devices, the trace view with 1,000,000 events
// loaded, and the trace view while 1,000 events per second arrive.
//
//   cargo build --release -p hublet-desktop --features custom-protocol
//   xvfb-run -a -s "-screen 0 1440x900x24" node tests/e2e/bench-app.mjs --app target/release/hublet-desktop
//
// Results are printed as a Markdown table for docs/benchmarks.md.

import { createWriteStream, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchApp, startDriver } from "./app.mjs";
import { ROOT } from "./hub.mjs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const app = opt("--app", join(ROOT, "target/release/hublet-desktop"));
const sims = Number(opt("--sims", "1000"));
const events = Number(opt("--events", "1000000"));
const rate = Number(opt("--rate", "1000"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
const note = (what, value) => {
  results.push([what, value]);
  console.log(`${what}: ${value}`);
};

const driver = await startDriver();
const launch = (args = []) => launchApp({ app, driver, args });

/** Proportional set size of a process and all its descendants, MB. */
function pssMb(rootPid) {
  const parents = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(d), ppid);
    } catch {
      // the process ended
    }
  }
  const tree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let kb = 0;
  for (const pid of tree) {
    try {
      const m = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+)/m);
      if (m) kb += Number(m[1]);
    } catch {
      // the process ended
    }
  }
  return { mb: kb / 1024, processes: tree.size };
}

/** Frame timing in the page for `ms`, optionally scrolling the trace list each frame. */
async function frames(browser, ms, scroll) {
  return browser.executeAsync(
    (dur, doScroll, done) => {
      const list = document.querySelector('[data-testid="trace-list"]');
      const gaps = [];
      let last = performance.now();
      const end = last + dur;
      let dir = 1;
      function tick(now) {
        gaps.push(now - last);
        last = now;
        if (doScroll && list) {
          if (list.scrollTop + list.clientHeight >= list.scrollHeight - 10) dir = -1;
          if (list.scrollTop <= 0) dir = 1;
          list.scrollTop += dir * 2400;
        }
        if (now < end) requestAnimationFrame(tick);
        else {
          gaps.sort((a, b) => a - b);
          const q = (p) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))];
          done({ frames: gaps.length, fps: gaps.length / (dur / 1000), p50: q(0.5), p95: q(0.95), max: gaps[gaps.length - 1] });
        }
      }
      requestAnimationFrame(tick);
    },
    ms,
    scroll,
  );
}
const fmtFrames = (f) => `${f.fps.toFixed(0)} fps (frame p50 ${f.p50.toFixed(1)} ms, p95 ${f.p95.toFixed(1)} ms, max ${f.max.toFixed(0)} ms)`;

try {
  // 1. Cold start.
  const starts = [];
  for (let i = 0; i < 3; i++) {
    const s = await launch();
    starts.push(s.ms);
    await s.browser.deleteSession();
    await sleep(1000);
  }
  starts.sort((a, b) => a - b);
  note("Cold start to an interactive window (launch → UI connected to its hub), median of 3", `${starts[1]} ms (runs: ${starts.join(", ")} ms)`);

  // 2. Memory idle, then with simulated devices.
  const s = await launch(["--demo"]);
  await sleep(15_000);
  const idle = pssMb(s.pid);
  note("Memory of the whole app idle (demo: 6 simulated devices, 1 emulated board), PSS", `${idle.mb.toFixed(0)} MB in ${idle.processes} processes`);
  const r = await s.api("/api/sim/fleets", { method: "POST", body: JSON.stringify({ profile: "thermostat", count: sims, prefix: "load" }) });
  if (!r.ok) throw new Error(`fleet: ${r.status} ${await r.text()}`);
  const t0 = Date.now();
  for (;;) {
    const list = await (await s.api("/api/sim/devices")).json();
    if (list.filter((d) => d.state === "online").length >= sims) break;
    if (Date.now() - t0 > 120_000) throw new Error("simulated devices did not come online");
    await sleep(500);
  }
  await sleep(15_000);
  const loaded = pssMb(s.pid);
  note(`Memory with ${sims} more simulated devices online (telemetry every 10 s each), PSS`, `${loaded.mb.toFixed(0)} MB`);
  await s.browser.execute(() => (window.location.hash = "#/devices"));
  const td = Date.now();
  await s.browser.$(`[data-device="load-${sims}"]`).waitForExist({ timeout: 60_000 });
  note(`Devices screen listing ${sims + 7} devices`, `${Date.now() - td} ms to show the last one`);

  // 3. Live: ~rate events/s into the trace view.
  await s.browser.execute(() => (window.location.hash = "#/trace"));
  await s.browser.$('[data-testid="trace-row"]').waitForExist({ timeout: 30_000 });
  const before = (await (await s.api("/api/hub")).json()).stats.traceEvents;
  let sending = true;
  // Each C2D message with ack=full makes 4 events (enqueued, delivered,
  // completed, feedback.produced).
  const perMsg = 4;
  const sender = (async () => {
    let n = 0;
    const start = Date.now();
    while (sending) {
      const due = Math.floor(((Date.now() - start) / 1000) * (rate / perMsg));
      const batch = [];
      for (; n < due; n++) {
        const dev = `load-${(n % sims) + 1}`;
        batch.push(s.api(`/api/devices/${dev}/messages`, { method: "POST", body: JSON.stringify({ body: `{"n":${n}}`, ack: "full" }) }));
      }
      await Promise.all(batch);
      await sleep(20);
    }
  })();
  await sleep(3000);
  const live = await frames(s.browser, 10_000, false);
  sending = false;
  await sender;
  const after = (await (await s.api("/api/hub")).json()).stats.traceEvents;
  note(`Trace view while events arrive (${Math.round((after - before) / 13)} events/s over 13 s, all kinds)`, fmtFrames(live));

  // 4. A million events loaded (imported from a file; the view holds them all).
  const file = createWriteStream(join(s.fileDir, "import.jsonl"));
  // Real event shapes: the engine's contract run (every kind), repeated.
  const templates = readFileSync(join(ROOT, "ui/tests/fixtures/trace-events.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const base = Date.parse("2026-11-26T08:00:00Z");
  for (let i = 1; i <= events; i++) {
    const t = templates[i % templates.length];
    const line = JSON.stringify({
      ...t,
      id: i,
      ts: new Date(base + i).toISOString(),
      monoUs: i * 1000,
      deviceId: t.deviceId ? `load-${(i % sims) + 1}` : undefined,
      messageId: t.messageId ? `m-${Math.floor(i / 4)}` : undefined,
    });
    if (!file.write(line + "\n")) await new Promise((r) => file.once("drain", r));
  }
  await new Promise((r) => file.end(r));
  const ti = Date.now();
  await s.browser.execute(() => window.dispatchEvent(new CustomEvent("hublet-menu", { detail: "import" })));
  await s.browser.waitUntil(
    async () => /1,000,000 events|1 000 000 events|1000000 events/.test(await s.browser.$('[data-testid="trace-status"]').getText()),
    { timeout: 180_000, interval: 250 },
  );
  note(`Trace view: ${events.toLocaleString("en")} events imported and shown`, `${((Date.now() - ti) / 1000).toFixed(1)} s from menu to list`);
  await sleep(2000);
  const scroll = await frames(s.browser, 5_000, true);
  note(`Scrolling through ${events.toLocaleString("en")} events (2,400 px per frame)`, fmtFrames(scroll));
  const big = pssMb(s.pid);
  note(`Memory with ${events.toLocaleString("en")} events in the view (and ${sims} devices), PSS`, `${big.mb.toFixed(0)} MB`);
  await s.browser.deleteSession();

  console.log("\n| Measurement | Result |\n|---|---|");
  for (const [k, v] of results) console.log(`| ${k} | ${v} |`);
  writeFileSync(join(ROOT, "tests/e2e/artifacts/bench-app.json"), JSON.stringify(results, null, 2));
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  driver.stop();
}
