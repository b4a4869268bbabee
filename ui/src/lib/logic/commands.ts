// Direct-method calls: the history of calls made from this UI (re-run,
// edit and re-run), kept in the browser's storage; and saved commands,
// which live in the hub's command library (shared with `hublet run` and
// scenario steps). Saved commands of older versions were kept in the
// browser: they move into the library once.

import type { LibraryCommand } from "../api/generated/LibraryCommand";
import type { JsonValue } from "../api/generated/serde_json/JsonValue";

export interface MethodCommand {
  methodName: string;
  payload: string;
  connectTimeout: number;
  responseTimeout: number;
}

export interface SavedCommand extends MethodCommand {
  name: string;
}

export interface HistoryEntry extends MethodCommand {
  deviceId: string;
  at: string;
  status: number | null;
  /** IoT Hub error code when the call failed. */
  errorCode: number | null;
  latencyMs: number | null;
  result: string;
}

const SAVED = "hublet.savedCommands";
const HISTORY = "hublet.methodHistory";
const HISTORY_MAX = 100;

function read<T>(s: Storage, key: string): T[] {
  try {
    const v = JSON.parse(s.getItem(key) ?? "[]");
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

/** Commands saved in this browser by an older Hublet (to move into the hub). */
export function legacySavedCommands(s: Storage = localStorage): SavedCommand[] {
  return read<SavedCommand>(s, SAVED);
}

/** Keeps only `left` of them in the browser (none: forgets the key). */
export function keepLegacySaved(left: SavedCommand[], s: Storage = localStorage): void {
  if (left.length === 0) s.removeItem(SAVED);
  else s.setItem(SAVED, JSON.stringify(left));
}

/**
 * How browser-saved commands move into the hub's library: names made valid
 * for it (letters, digits, `-`, `_`, `.`), a name the library already has
 * for another command gets `-browser`; a payload that is not JSON cannot
 * move and stays in the browser.
 */
export function planMigration(legacy: SavedCommand[], existing: LibraryCommand[]): { save: LibraryCommand[]; keep: SavedCommand[] } {
  const taken = new Map(existing.map((c) => [c.name, c]));
  const save: LibraryCommand[] = [];
  const keep: SavedCommand[] = [];
  for (const c of legacy) {
    let name = c.name.trim().replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 120) || "command";
    const lib = toLibrary({ ...c, name });
    if (!lib) {
      keep.push(c);
      continue;
    }
    const there = taken.get(name);
    if (there && JSON.stringify(there) === JSON.stringify(lib)) continue; // moved before
    if (there) name = `${name}-browser`;
    const moved = { ...lib, name };
    taken.set(name, moved);
    save.push(moved);
  }
  return { save, keep };
}

/** A method form saved under `name` as a library command; null when its payload is not JSON. */
export function toLibrary(c: SavedCommand): LibraryCommand | null {
  let payload: JsonValue;
  try {
    payload = c.payload.trim() === "" ? null : (JSON.parse(c.payload) as JsonValue);
  } catch {
    return null;
  }
  return {
    name: c.name,
    kind: "method",
    method: c.methodName,
    ...(payload === null ? {} : { payload }),
    connect_timeout: Number(c.connectTimeout),
    response_timeout: Number(c.responseTimeout),
  };
}

/** The library's method commands, by name. */
export function methodCommands(all: LibraryCommand[]): Extract<LibraryCommand, { kind: "method" }>[] {
  return all
    .filter((c): c is Extract<LibraryCommand, { kind: "method" }> => c.kind === "method")
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function history(deviceId: string | null, s: Storage = localStorage): HistoryEntry[] {
  const all = read<HistoryEntry>(s, HISTORY);
  return deviceId === null ? all : all.filter((h) => h.deviceId === deviceId);
}

/** Records a call, newest first, keeping the last 100. */
export function remember(h: HistoryEntry, s: Storage = localStorage): HistoryEntry[] {
  const all = [h, ...read<HistoryEntry>(s, HISTORY)].slice(0, HISTORY_MAX);
  s.setItem(HISTORY, JSON.stringify(all));
  return all;
}

/** The library's C2D message commands, by name. */
export function messageCommands(all: LibraryCommand[]): Extract<LibraryCommand, { kind: "c2d" }>[] {
  return all
    .filter((c): c is Extract<LibraryCommand, { kind: "c2d" }> => c.kind === "c2d")
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What the send form holds, as far as a saved message keeps it. */
export interface MessageForm {
  mode: "text" | "json" | "hex" | "base64";
  body: string;
  properties: Record<string, string>;
  ack: string;
  ttl: string;
  contentType: string;
  contentEncoding: string;
  correlationId: string;
}

/** The send form saved under `name`; null when a JSON body does not parse. */
export function messageToLibrary(name: string, f: MessageForm): LibraryCommand | null {
  let body: JsonValue = f.body;
  if (f.mode === "json") {
    try {
      body = JSON.parse(f.body) as JsonValue;
    } catch {
      return null;
    }
  }
  const opt = (v: string) => (v.trim() === "" ? {} : null);
  return {
    name,
    kind: "c2d",
    body,
    ...(f.mode === "hex" || f.mode === "base64" ? { body_encoding: f.mode } : {}),
    ...(Object.keys(f.properties).length ? { properties: f.properties } : {}),
    ...(f.ack !== "none" ? { ack: f.ack } : {}),
    ...(f.ttl.trim() ? { ttl_secs: Number(f.ttl.trim()) } : {}),
    ...(opt(f.contentType) ?? { content_type: f.contentType.trim() }),
    ...(opt(f.contentEncoding) ?? { content_encoding: f.contentEncoding.trim() }),
    ...(opt(f.correlationId) ?? { correlation_id: f.correlationId.trim() }),
  };
}

/** A (filled-in) saved message as the send form shows it. */
export function messageFromLibrary(c: Extract<LibraryCommand, { kind: "c2d" }>): MessageForm {
  const text = typeof c.body === "string";
  const mode = c.body_encoding === "hex" || c.body_encoding === "base64" ? c.body_encoding : text ? "text" : "json";
  return {
    mode,
    body: text ? (c.body as string) : JSON.stringify(c.body ?? null, null, 2),
    properties: c.properties ?? {},
    ack: c.ack ?? "none",
    ttl: c.ttl_secs != null ? String(c.ttl_secs) : "",
    contentType: c.content_type ?? "",
    contentEncoding: c.content_encoding ?? "",
    correlationId: c.correlation_id ?? "",
  };
}
