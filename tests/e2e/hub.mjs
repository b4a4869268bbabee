// Starts `hublet serve` on a temporary data directory with every listener on
// an ephemeral loopback port, for the browser end-to-end run.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;

/** Resolves when the banner printed the UI link. */
export async function startHub({ bin, demo = true, ui = join(ROOT, "ui/dist") }) {
  const dataDir = mkdtempSync(join(tmpdir(), "hublet-e2e-"));
  const args = ["--data-dir", dataDir, "serve", "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--api", "127.0.0.1:0", "--https", "127.0.0.1:0", "--amqps", "127.0.0.1:0", "--ui", ui];
  if (demo) args.push("--demo");
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stderr.on("data", (d) => (out += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hublet serve did not start:\n${out}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/ui\s+(http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`hublet serve exited (${code}):\n${out}`)));
  });
  const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
  return {
    url,
    token,
    dataDir,
    api: new URL(url).origin,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}
