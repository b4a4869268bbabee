// Temporary directories for one end-to-end run (hub data, files the app
// saved). Removed when the run exits cleanly, so repeated runs do not pile
// up in /tmp; kept, and named, after a failure, for a look at what the hub
// stored.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = [];

process.on("exit", (code) => {
  if (code === 0) {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  } else if (made.length > 0) {
    console.error(`kept for a look: ${made.join(" ")}`);
  }
});

/** A new directory under the system's temporary directory. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
