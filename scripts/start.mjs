// `npm start`: the README's first command. Installs what a fresh Debian or
// Ubuntu machine lacks (the WebKitGTK libraries Tauri needs, the UI's npm
// packages), builds the UI, and starts the desktop app with an embedded hub
// and the demo devices. Without a display (a server, SSH), it starts the
// same hub headless and serves the UI to a browser instead.
//
//   npm start                                # desktop app, demo fleet
//   npm start -- --browser                   # hub + UI in the browser, no window
//   npm start -- --data-dir /tmp/lab --mqtt 127.0.0.1:1884   # flags go to the app
//   npm start -- --no-demo                   # without the demo fleet
//
// A second start with no source change rebuilds nothing: the UI is built
// only when a file it is built from (ui/src, ui/index.html, the lock file...) is newer than ui/dist, so
// the desktop crate, which embeds ui/dist, is not recompiled either.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const browserOnly = args.includes("--browser") || !(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
// What goes to the app: every flag but start.mjs's own, with the demo
// fleet unless --no-demo.
const passed = args.filter((a) => a !== "--browser" && a !== "--no-demo");
if (!args.includes("--no-demo") && !passed.includes("--demo")) passed.push("--demo");

/** The newest modification time under `path` (a file or a directory). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), st.mtimeMs);
}

/** Whether ui/dist is older than what it is built from. */
function uiStale() {
  const built = join(root, "ui", "dist", "index.html");
  if (!existsSync(built)) return true;
  const inputs = ["ui/src", "ui/public", "ui/index.html", "ui/vite.config.ts", "ui/svelte.config.js", "package-lock.json"];
  return Math.max(...inputs.map((p) => newest(join(root, p)))) > statSync(built).mtimeMs;
}

function run(cmd, cmdArgs, opts = {}) {
  console.log(`$ ${cmd} ${cmdArgs.join(" ")}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status ?? 1);
  }
}

function has(cmd, cmdArgs = ["--version"]) {
  try {
    execFileSync(cmd, cmdArgs, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Debian packages the desktop app builds against. */
const APT = ["libwebkit2gtk-4.1-dev", "libgtk-3-dev", "librsvg2-dev", "libsoup-3.0-dev", "libjavascriptcoregtk-4.1-dev", "pkg-config"];

if (!has("cargo")) {
  console.error("Rust is missing: install it from https://rustup.rs (or your distribution), then run npm start again.");
  process.exit(1);
}
if (!browserOnly && !has("pkg-config", ["--exists", "webkit2gtk-4.1"])) {
  if (has("apt-get")) {
    // apt-get as root, through sudo otherwise.
    const apt = (aptArgs) => (process.getuid?.() === 0 ? ["apt-get", aptArgs] : ["sudo", ["apt-get", ...aptArgs]]);
    console.log("Installing the WebKitGTK libraries the desktop app needs…");
    run(...apt(["update", "-qq"]));
    run(...apt(["install", "-y", ...APT]), { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } else {
    console.error(`Install these first (names as in Debian): ${APT.join(" ")}`);
    process.exit(1);
  }
}
if (!existsSync(join(root, "node_modules", ".package-lock.json"))) {
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}
if (uiStale()) run("npm", ["run", "build:ui"]);
else console.log("The UI is up to date (ui/dist is newer than ui/): not rebuilt.");

if (browserOnly) {
  console.log("\nNo display (or --browser): starting the hub headless with the UI for a browser.\n");
  run("cargo", ["run", "--release", "-p", "hublet", "--", "serve", "--ui", ...passed]);
} else {
  console.log("\nBuilding and starting the desktop app (the first build takes several minutes)…\n");
  run("cargo", ["run", "--release", "-p", "hublet-desktop", "--features", "custom-protocol", "--", ...passed]);
}
