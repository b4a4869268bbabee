// The end-to-end scenario in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) against `hublet serve --ui` with the demo
// fleet: what a classroom's trainee sees in a browser; then bodies and text
// search (steps/bodies.mjs), a QA scenario run from the Scenarios screen
// (steps/scenarios.mjs), every screen through axe-core and at 1024×700
// (steps/a11y.mjs), and the hub going away under the open UI
// (steps/hubGone.mjs).
//
//   node tests/e2e/browser.mjs [--hublet target/debug/hublet]
// Screenshots go to tests/e2e/artifacts/browser/.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startHub } from "./hub.mjs";
import { scenario } from "./scenario.mjs";
import { accessibility } from "./steps/a11y.mjs";
import { bodies } from "./steps/bodies.mjs";
import { hubGone } from "./steps/hubGone.mjs";
import { scenarios } from "./steps/scenarios.mjs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const bin = opt("--hublet", join(ROOT, "target/debug/hublet"));
const chrome = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = join(ROOT, "tests/e2e/artifacts/browser");
mkdirSync(shots, { recursive: true });

let hub = await startHub({ bin });
const browser = await chromium.launch({
  executablePath: chrome,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
let page = null;
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, acceptDownloads: true });
  page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  // The token rides in a URL only where a header cannot: the live stream
  // (EventSource). Files are fetched with it in a header.
  const leaks = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.searchParams.has("access_token") && u.pathname !== "/api/trace/stream") leaks.push(`${u.pathname}?…`);
  });
  await page.goto(hub.url);
  const ui = {
    go: async (hash) => {
      await page.evaluate((h) => (window.location.hash = h), hash);
    },
    waitFor: (s, timeout = 15_000) => page.waitForSelector(s, { timeout, state: "attached" }),
    click: (s) => page.click(s),
    fill: (s, v) => page.fill(s, v),
    select: (s, v) => page.selectOption(s, v),
    text: (s) => page.innerText(s),
    screenshot: (name) => page.screenshot({ path: join(shots, `${name}.png`) }),
    gone: async (s) => (await page.$(s)) === null,
    // window.confirm answered "OK" from now on (Playwright dismisses dialogs).
    acceptConfirms: () => page.evaluate(() => (window.confirm = () => true)),
  };
  console.log(`browser e2e: ${hub.url.replace(/token=\w+/, "token=…")}`);
  const { messageId } = await scenario(ui, {
    exportTrace: async () => {
      await ui.go("#/trace");
      await ui.waitFor('[data-testid="trace-export-jsonl"]');
      const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="trace-export-jsonl"]')]);
      if (download.url().includes(hub.token)) throw new Error("the export's download URL carries the API token");
      const path = await download.path();
      return readFileSync(path, "utf8");
    },
  });
  await bodies(page, hub, { messageId, body: '{"setpoint": 21.5}' });
  await scenarios(page, hub, { shots });
  await accessibility(page, { shots, storyKey: messageId });
  await hubGone(page, hub, { shots, restart: async () => (hub = await hub.restart()) });
  if (leaks.length) throw new Error(`requests carried the API token in their URL: ${leaks.join(", ")}`);
  if (errors.length) throw new Error(`the page threw:\n${errors.join("\n")}`);
  console.log("browser e2e: passed");
} catch (e) {
  failed = true;
  console.error(e);
  // What the page showed when it failed, for the CI log's reader.
  await page?.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
  console.error(`screenshot of the failure: ${join(shots, "failure.png")}`);
  if (errors.length) console.error(`the page threw:\n${errors.join("\n")}`);
} finally {
  await browser.close();
  await hub.stop();
}
process.exit(failed ? 1 : 0);
