// Starts `hublet serve` on a temporary data directory with every listener on
// an ephemeral loopback port, for the browser end-to-end run; and starts it
// again on the same directory and ports, as a user restarting their hub.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./tmp.mjs";

export const ROOT = new URL("../..", import.meta.url).pathname;

const FREE = { mqtt: "127.0.0.1:0", mqtts: "127.0.0.1:0", api: "127.0.0.1:0", https: "127.0.0.1:0", amqps: "127.0.0.1:0" };

/** Resolves when the banner printed the UI link. `listeners` overrides
 * addresses (`{ api: "127.0.0.1:8480" }`). */
export async function startHub({ bin, demo = true, ui = join(ROOT, "ui/dist"), dataDir = tempDir("hublet-e2e-"), listeners = {} }) {
  const addresses = { ...FREE, ...listeners };
  const args = ["--data-dir", dataDir, "serve", ...Object.entries(addresses).flatMap(([flag, addr]) => [`--${flag}`, addr]), "--ui", ui];
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
  // The addresses it bound, from its banner ("  api   127.0.0.1:40987   …").
  const bound = Object.fromEntries(Object.keys(FREE).map((flag) => [flag, out.match(new RegExp(`^\\s+${flag}\\s+(\\S+)`, "m"))?.[1]]));
  const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      // A stopped (SIGSTOP) hub hears SIGTERM only once it runs again.
      child.kill("SIGCONT");
      child.kill("SIGTERM");
    });
  return {
    url,
    token,
    dataDir,
    api: new URL(url).origin,
    /** Sends a signal to the hub (SIGSTOP freezes it, SIGCONT thaws it). */
    signal: (sig) => child.kill(sig),
    stop,
    /** Stops this hub (if it runs) and starts another on the same data directory and ports. */
    restart: async () => {
      await stop();
      return startHub({ bin, demo, ui, dataDir, listeners: bound });
    },
  };
}
