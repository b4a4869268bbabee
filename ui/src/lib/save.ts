// Saving a file the user asked for (a trace export, the CA certificate):
// its contents are produced here first (a file from the hub is fetched with
// the token in a header, never in a link's URL), then saved through the
// desktop app's save dialog or handed to the browser as a download.

import { app } from "./app.svelte";
import { saveFile } from "./desktop";

/** Saves what `contents` gives as `name`; says in a notice where it went
 * (the desktop app) or why it failed. */
export async function saveAs(name: string, type: string, contents: () => Promise<string> | string): Promise<void> {
  try {
    const where = await saveFile(name, await contents(), type);
    // A browser shows its own download; the app's dialog does not.
    if (app.desktop && where) app.notify(`Saved to ${where}`, "ok");
  } catch (e) {
    app.notify(`Could not save ${name}: ${e instanceof Error ? e.message : String(e)}`, "bad");
  }
}
