// QA scenarios from the app, in Chromium: the Scenarios screen lists the
// files of the data directory's `scenarios` folder (a broken one with its
// line), runs one that fails, follows it step by step, and the failing
// step opens its story in the trace; the run stays in the history. Then the
// command library: a command an older Hublet saved in the browser moves
// into the hub's library and runs from the Methods tab; and two trace
// recordings compared step by step.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

const HOT = `version = 1
name = "thermostat runs hot"

[[devices]]
id = "e2e-hot"
kind = "simulated"
profile = "thermostat"
online = true

[[steps]]
do = "invoke"
device = "e2e-hot"
method = "getTemperature"
expect = { status = 200, paths = [{ path = "$.temperature", gt = 1000 }] }

[[steps]]
do = "send"
device = "e2e-hot"
body = "not reached"
`;

const BROKEN = `version = 1
name = "broken"

[[steps]]
do = "invoke"
devise = "thermostat-1"
`;

export async function scenarios(page, hub, { shots, log = console.log }) {
  const dir = join(hub.dataDir, "scenarios");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "broken.toml"), BROKEN);
  writeFileSync(join(dir, "hot.toml"), HOT);

  await page.evaluate(() => (window.location.hash = "#/scenarios"));
  await page.waitForSelector(sel("scenario-file", '[data-file="hot.toml"]'), { timeout: 15_000 });
  const broken = await page.innerText(sel("scenario-file", '[data-file="broken.toml"]'));
  assert.match(broken, /Cannot run:.*broken\.toml:4:1: .*unknown field `devise`/s, broken);
  log("  · the folder's files, a broken one with its line … ok");

  await page.click(`${sel("scenario-file", '[data-file="hot.toml"]')} ${sel("run-file")}`);
  await page.waitForSelector(sel("current-run", '[data-done="true"]'), { timeout: 30_000 });
  await page.waitForSelector(sel("case", '[data-verdict="failed"]'), { timeout: 5_000 });
  const steps = await page.$$eval(`${sel("current-run")} ${sel("case-step")}`, (els) => els.map((e) => e.getAttribute("data-verdict")));
  assert.deepEqual(steps, ["passed", "failed", "skipped"]);
  const text = await page.innerText(sel("current-run"));
  assert.match(text, /expected\s+\$\.temperature > 1000/, text);
  await page.screenshot({ path: join(shots, "scenarios-failed.png") });
  log("  · a run followed step by step, the failure with expected and actual … ok");

  await page.click(`${sel("current-run")} ${sel("step-story")}`);
  await page.waitForSelector(sel("story-step"), { timeout: 15_000 });
  const hash = await page.evaluate(() => window.location.hash);
  assert.match(hash, /^#\/trace\/story\//);
  const story = await page.innerText("main");
  assert.match(story, /getTemperature/, "the call's story");
  log("  · the failing step opens its story in the trace … ok");

  await page.evaluate(() => (window.location.hash = "#/scenarios"));
  await page.waitForSelector(sel("history-row"), { timeout: 15_000 });
  const rows = await page.$$eval(sel("history-row"), (els) => els.map((e) => e.innerText));
  assert.ok(rows.some((r) => r.includes("thermostat runs hot") && r.includes("failed")), rows.join("\n"));
  log("  · the run is in the history … ok");

  const legacy = [{ name: "legacy-setpoint", methodName: "setSetpoint", payload: '{"setpoint": 24}', connectTimeout: 0, responseTimeout: 30 }];
  await page.evaluate((v) => localStorage.setItem("hublet.savedCommands", v), JSON.stringify(legacy));
  await page.evaluate(() => (window.location.hash = "#/devices/thermostat-1/methods"));
  await page.waitForSelector(sel("saved-command", '[data-name="legacy-setpoint"]'), { timeout: 15_000 });
  assert.equal(await page.evaluate(() => localStorage.getItem("hublet.savedCommands")), null, "moved out of the browser");
  const lib = await (await fetch(`${hub.api}/api/commands`, { headers: { authorization: `Bearer ${hub.token}` } })).json();
  assert.deepEqual(
    lib.map((c) => [c.name, c.kind, c.method, c.payload]),
    [["legacy-setpoint", "method", "setSetpoint", { setpoint: 24 }]],
  );
  await page.click(`${sel("saved-command", '[data-name="legacy-setpoint"]')} ${sel("saved-run")}`);
  // The tab keeps the device's last result (setpoint 23, from an earlier
  // step) until the new call returns: wait for this call's own answer.
  await page.waitForFunction(
    () => /"accepted": 24/.test(document.querySelector('[data-testid="method-result"][data-status="200"] [data-testid="method-payload-out"]')?.textContent ?? ""),
    null,
    { timeout: 15_000 },
  );
  log("  · a browser-saved command moves into the hub's library and runs from it … ok");

  await page.evaluate(() => (window.location.hash = "#/devices/thermostat-2/messages"));
  await page.waitForSelector(sel("send-body"), { timeout: 15_000 });
  await page.selectOption(sel("send-mode"), "json");
  await page.fill(sel("send-body"), '{"led": "on"}');
  await page.selectOption(sel("send-ack"), "full");
  await page.fill(sel("send-save-name"), "e2e-led");
  await page.click(sel("send-save"));
  await page.waitForSelector(sel("saved-message", '[data-name="e2e-led"]'), { timeout: 15_000 });
  await page.fill(sel("send-body"), "something else");
  await page.click(`${sel("saved-message", '[data-name="e2e-led"]')} ${sel("saved-send")}`);
  await page.waitForSelector(sel("send-result"), { timeout: 15_000 });
  assert.equal(await page.inputValue(sel("send-body")), '{\n  "led": "on"\n}');
  const lib2 = await (await fetch(`${hub.api}/api/commands`, { headers: { authorization: `Bearer ${hub.token}` } })).json();
  assert.deepEqual(lib2.find((c) => c.name === "e2e-led"), { name: "e2e-led", kind: "c2d", body: { led: "on" }, ack: "full" });
  log("  · a message saved from the send form, sent again from the library … ok");

  // Two recordings of thermostat-1: two calls, then one.
  const call = () =>
    fetch(`${hub.api}/api/devices/thermostat-1/methods`, {
      method: "POST",
      headers: { authorization: `Bearer ${hub.token}`, "content-type": "application/json" },
      body: JSON.stringify({ methodName: "getTemperature", payload: null, responseTimeoutInSeconds: 10 }),
    }).then((r) => r.json());
  await page.evaluate(() => (window.location.hash = "#/trace"));
  await page.waitForSelector(sel("trace-filter-device"), { timeout: 15_000 });
  await page.fill(sel("trace-filter-device"), "thermostat-1");
  await page.press(sel("trace-filter-device"), "Enter");
  for (const [name, calls] of [["two calls", 2], ["one call", 1]]) {
    await page.fill(sel("trace-record-name"), name);
    await page.click(sel("trace-record-start"));
    await page.waitForSelector(sel("trace-record-stop"), { timeout: 5_000 });
    for (let i = 0; i < calls; i++) await call();
    await new Promise((r) => setTimeout(r, 300));
    await page.click(sel("trace-record-stop"));
    await page.waitForSelector(sel("trace-record-start"), { timeout: 5_000 });
  }
  if (!(await page.$(sel("recordings")))) await page.click(sel("trace-recordings-toggle"));
  const picks = await page.$$(sel("recording-pick"));
  await picks[0].check();
  await picks[1].check();
  await page.click(sel("recordings-compare"));
  await page.waitForSelector(sel("trace-diff"), { timeout: 15_000 });
  const lines = await page.$$eval(sel("trace-diff-line"), (els) => els.map((e) => e.innerText));
  assert.ok(lines.some((l) => l.includes("method getTemperature #2") && l.includes("only in")), lines.join("\n"));
  await page.screenshot({ path: join(shots, "trace-diff.png") });
  log("  · two recordings compared step by step … ok");
}
