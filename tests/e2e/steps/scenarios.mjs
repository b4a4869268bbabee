// QA scenarios from the app, in Chromium: the Scenarios screen lists the
// files of the data directory's `scenarios` folder (a broken one with its
// line), runs one that fails, follows it step by step, and the failing
// step opens its story in the trace; the run stays in the history.

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
}
