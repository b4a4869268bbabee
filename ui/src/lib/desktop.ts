// What only the desktop app adds: native save and open dialogs (the shell's
// `save_file` and `open_file` commands) and its menu. In a browser these
// fall back to a download and a file input.

import { invoke } from "@tauri-apps/api/core";
import { app } from "./app.svelte";

/** Saves `contents` as `name`: a native dialog in the app, a download in a browser. Returns where, or null if cancelled. */
export async function saveFile(name: string, contents: string, type = "application/octet-stream"): Promise<string | null> {
  if (app.desktop) {
    return invoke<string | null>("save_file", { name, contents });
  }
  const url = URL.createObjectURL(new Blob([contents], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

/** Asks for a file in the app (native dialog); null in a browser (use a file input) or when cancelled. */
export async function openFile(): Promise<{ name: string; text: string } | null> {
  if (!app.desktop) return null;
  const got = await invoke<[string, string] | null>("open_file");
  return got ? { name: got[0], text: got[1] } : null;
}

/** Menu items the shell forwards to the page (`hublet-menu` events). */
export type MenuAction = "export" | "import" | "theme";

export function onMenu(handler: (action: MenuAction) => void): () => void {
  const listener = (e: Event) => handler((e as CustomEvent<MenuAction>).detail);
  window.addEventListener("hublet-menu", listener);
  return () => window.removeEventListener("hublet-menu", listener);
}
