// The end-to-end scenario against the real desktop app: the Tauri binary
// (built with the `custom-protocol` feature, so it loads the built UI),
// driven through tauri-driver and WebKitWebDriver, on an X display (the
// caller runs it under Xvfb: see tests/run-all.sh).
//
//   node tests/e2e/desktop.mjs --app target/debug/hublet-desktop
// Screenshots go to tests/e2e/artifacts/desktop/.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchApp, startDriver } from "./app.mjs";
import { ROOT } from "./hub.mjs";
import { scenario } from "./scenario.mjs";
import { startupFailure } from "./steps/startup.mjs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const app = opt("--app", join(ROOT, "target/debug/hublet-desktop"));
const driverBin = opt("--tauri-driver", "tauri-driver");
const shots = join(ROOT, "tests/e2e/artifacts/desktop");
mkdirSync(shots, { recursive: true });

const driver = await startDriver(driverBin);
let failed = false;
let browser;
let exportDir;
try {
  const launched = await launchApp({ app, driver, args: ["--demo"] });
  browser = launched.browser;
  exportDir = launched.fileDir;
  const interactiveMs = launched.ms;
  console.log(`desktop e2e: window interactive ${interactiveMs} ms after launch`);
  writeFileSync(join(shots, "startup.json"), JSON.stringify({ interactiveMs }));
  const ui = {
    go: (hash) => browser.execute((h) => (window.location.hash = h), hash),
    waitFor: (s, timeout = 15_000) => browser.$(s).waitForExist({ timeout }),
    click: async (s) => (await browser.$(s)).click(),
    fill: async (s, v) => {
      const el = await browser.$(s);
      await el.clearValue();
      await el.setValue(v);
    },
    select: async (s, v) => (await browser.$(s)).selectByAttribute("value", v),
    text: async (s) => (await browser.$(s)).getText(),
    screenshot: (name) => browser.saveScreenshot(join(shots, `${name}.png`)),
    gone: async (s) => !(await (await browser.$(s)).isExisting()),
    // window.confirm answered "OK" from now on (a native dialog cannot be clicked).
    acceptConfirms: () => browser.execute(() => (window.confirm = () => true)),
  };
  await scenario(ui, {
    // In the app, export goes through the shell's save dialog, which
    // HUBLET_E2E_DIR replaces with a directory.
    exportTrace: async () => {
      await ui.go("#/trace");
      await ui.click('[data-testid="trace-export-jsonl"]');
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const files = readdirSync(exportDir).filter((f) => f.endsWith(".jsonl"));
        if (files.length) {
          await new Promise((r) => setTimeout(r, 500));
          return readFileSync(join(exportDir, files[0]), "utf8");
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error("the export never reached a file");
    },
  });
  // The start-up screen needs its own launch: end this one first (a second
  // instance would hand over to it).
  await browser.deleteSession();
  browser = null;
  await startupFailure({ app, driver, shots });
  console.log("desktop e2e: passed");
} catch (e) {
  failed = true;
  console.error(e);
  // What the window showed when it failed.
  await browser?.saveScreenshot(join(shots, "failure.png")).catch(() => {});
  const body = await browser?.execute(() => document.body?.innerText ?? "").catch(() => "");
  if (body) console.error(`page text at failure:\n${String(body).slice(0, 2000)}`);
} finally {
  await browser?.deleteSession().catch(() => {});
  driver.stop();
}
process.exit(failed ? 1 : 0);
