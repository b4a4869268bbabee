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
export type MenuAction = "export" | "import" | "theme" | "about";

/** Why the desktop app's hub did not start (the shell's `StartupProblem`,
 * src-tauri/src/hub.rs; a shell type, so written here rather than generated). */
export interface StartupProblem {
  kind: "address-in-use" | "permission" | "no-such-address" | "already-running" | "data-dir" | "other";
  message: string;
  flag: string | null;
  addr: string | null;
  holder: string | null;
  dataDir: string;
  runningPid: number | null;
  addresses: Record<string, string>;
}

/** The start-up problem the shell injected, if the hub did not start. */
export function startupProblem(): StartupProblem | null {
  const injected = typeof window !== "undefined" ? window.__HUBLET__ : undefined;
  return injected && "startupError" in injected ? injected.startupError : null;
}

/** Access to a hub started from the start-up screen. */
interface Access {
  api: string;
  token: string;
}

/**
 * Starts the hub again with `overrides` (option → address or "off") for
 * this run, every port picked by the system with `freePorts`, and the
 * overrides kept for later starts with `remember`. On success the new
 * access replaces the injected problem (and survives a reload); on failure
 * the new problem is thrown.
 */
export async function retryHub(overrides: Record<string, string>, freePorts: boolean, remember: boolean): Promise<Access> {
  const access = await invoke<Access>("retry_hub", { overrides, freePorts, remember });
  sessionStorage.setItem("hublet.shell", JSON.stringify(access));
  window.__HUBLET__ = access;
  return access;
}

export const openDataDir = (): Promise<void> => invoke("open_data_dir");
export const quitApp = (): Promise<void> => invoke("quit");

export function onMenu(handler: (action: MenuAction) => void): () => void {
  const listener = (e: Event) => handler((e as CustomEvent<MenuAction>).detail);
  window.addEventListener("hublet-menu", listener);
  return () => window.removeEventListener("hublet-menu", listener);
}
