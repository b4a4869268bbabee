// The desktop app's start-up that never hangs: a port held by another
// program opens the window on the start-up screen, which names the address
// and its holder; "Use free ports for this run" recovers; Quit ends the app.

import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { launchApp } from "../app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A screenshot of the whole X display. WebKitWebDriver's own screenshot
 * never answers in a window whose hub started late (the window itself
 * draws: this picture shows it), so the X server is asked instead.
 */
function xshot(path) {
  try {
    execFileSync("sh", ["-c", `xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng > '${path}'`], { stdio: "ignore" });
  } catch (e) {
    console.log(`desktop e2e: no screenshot of the display (${e.message}); xwd and netpbm come from tests/setup.sh`);
  }
}

/** Whether a process whose command line mentions `needle` still runs. */
function running(needle) {
  try {
    execFileSync("pgrep", ["-f", needle], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function startupFailure({ app, driver, shots }) {
  // This test process holds the port, as a local MQTT broker would.
  const blocker = createServer();
  await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
  const taken = `127.0.0.1:${blocker.address().port}`;
  let browser;
  try {
    const launched = await launchApp({ app, driver, listeners: { mqtt: taken }, ready: '[data-testid="startup-error"]' });
    browser = launched.browser;
    const cause = await (await browser.$('[data-testid="startup-cause"]')).getText();
    if (!cause.includes(taken) || !cause.includes(`pid ${process.pid}`)) {
      throw new Error(`the start-up screen should name ${taken} and this process (pid ${process.pid}): ${cause}`);
    }
    xshot(join(shots, "startup-port-taken.png"));
    console.log(`desktop e2e: start-up screen in ${launched.ms} ms: ${cause}`);

    await (await browser.$('[data-testid="startup-free-ports"]')).click();
    await browser.$('[data-nav="devices"]').waitForExist({ timeout: 30_000 });
    xshot(join(shots, "startup-recovered.png"));
    console.log("desktop e2e: recovered on free ports");

    // File → Quit and Ctrl+Q run the shell's quit command; a native menu
    // cannot be clicked through WebDriver, so the test calls the command.
    await browser.execute(() => window.__TAURI_INTERNALS__.invoke("quit")).catch(() => {});
    const deadline = Date.now() + 10_000;
    while (running(launched.dataDir) && Date.now() < deadline) await sleep(200);
    if (running(launched.dataDir)) throw new Error("Quit did not end the app");
    console.log("desktop e2e: Quit ended the app");
  } finally {
    await browser?.deleteSession().catch(() => {});
    blocker.close();
  }
}
