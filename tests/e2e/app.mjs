// The desktop app under WebDriver: tauri-driver (which runs WebKitWebDriver)
// and one app session on its own data directory and ports, so it never
// meets a developer's hub. Used by desktop.mjs and bench-app.mjs.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { remote } from "webdriverio";
import { tempDir } from "./tmp.mjs";

/**
 * Starts tauri-driver on a random port. The apps it launches inherit its
 * environment: `HUBLET_E2E_DIR` (the directory that replaces the native
 * file dialogs) is set here, once, as `fileDir`.
 */
export async function startDriver(bin = "tauri-driver") {
  const port = 4444 + Math.floor(Math.random() * 2000);
  const fileDir = tempDir("hublet-app-files-");
  const child = spawn(bin, ["--port", String(port)], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, HUBLET_E2E_DIR: fileDir },
  });
  await new Promise((r) => setTimeout(r, 1500));
  return { port, fileDir, stop: () => child.kill() };
}

/** Every listener on a free loopback port, so a run never meets another hub. */
const FREE = { mqtt: "127.0.0.1:0", mqtts: "127.0.0.1:0", api: "127.0.0.1:0", https: "127.0.0.1:0", amqps: "127.0.0.1:0" };

/**
 * Launches the app on a fresh data directory and waits until the UI is
 * connected to its hub (or, with `ready`, until that selector shows).
 * `listeners` overrides addresses (`{ mqtt: "127.0.0.1:1883" }`). `ms` is
 * launch → interactive.
 */
export async function launchApp({ app, driver, args = [], listeners = {}, ready = '[data-nav="devices"]' }) {
  const dataDir = tempDir("hublet-app-");
  const addresses = Object.entries({ ...FREE, ...listeners }).flatMap(([flag, addr]) => [`--${flag}`, addr]);
  const t0 = Date.now();
  const browser = await remote({
    hostname: "127.0.0.1",
    port: driver.port,
    logLevel: "error",
    capabilities: {
      "tauri:options": {
        application: app,
        args: ["--data-dir", dataDir, ...addresses, ...args],
      },
    },
  });
  await browser.$(ready).waitForExist({ timeout: 60_000 });
  const ms = Date.now() - t0;
  if (ready !== '[data-nav="devices"]') return { browser, ms, dataDir };
  const hub = JSON.parse(readFileSync(join(dataDir, "hub.json"), "utf8"));
  const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
  /** The app's hub's REST API. */
  const api = (path, init = {}) =>
    fetch(hub.api + path, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  return { browser, ms, dataDir, fileDir: driver.fileDir, api, pid: hub.pid };
}
