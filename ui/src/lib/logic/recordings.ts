// Trace recordings: a named slice of the hub's trace, from "Start" to
// "Stop", kept as two event ids (the hub keeps the events themselves). A
// recording is the user's bookmark, so it lives in the browser's storage;
// the one being recorded survives a reload.

import type { TraceParams } from "../api/hub";
import type { TraceFilter } from "./traceFilter";

export interface ActiveRecording {
  name: string;
  /** The last event id before the recording started (its events are newer). */
  startId: number;
  startedAt: string;
  /** The filter on screen when it started (what the user was watching). */
  filter: TraceFilter;
}

export interface Recording extends ActiveRecording {
  id: string;
  /** The last event id when it stopped (its events are this one or older). */
  endId: number;
  stoppedAt: string;
}

const LIST = "hublet.recordings";
const ACTIVE = "hublet.recording.active";

function isFilter(v: unknown): v is TraceFilter {
  const f = v as TraceFilter;
  return (
    typeof f === "object" &&
    f !== null &&
    typeof f.deviceId === "string" &&
    Array.isArray(f.kinds) &&
    f.kinds.every((k) => typeof k === "string") &&
    typeof f.text === "string" &&
    typeof f.since === "string" &&
    typeof f.until === "string"
  );
}

function isActive(v: unknown): v is ActiveRecording {
  const r = v as ActiveRecording;
  return typeof r === "object" && r !== null && typeof r.name === "string" && Number.isSafeInteger(r.startId) && typeof r.startedAt === "string" && isFilter(r.filter);
}

function isRecording(v: unknown): v is Recording {
  const r = v as Recording;
  return isActive(v) && typeof r.id === "string" && Number.isSafeInteger(r.endId) && r.endId >= r.startId && typeof r.stoppedAt === "string";
}

function readJson(s: Storage, key: string): unknown {
  try {
    return JSON.parse(s.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

/** Saved recordings, newest first (entries that do not parse are left out). */
export function recordings(s: Storage = localStorage): Recording[] {
  const v = readJson(s, LIST);
  return Array.isArray(v) ? v.filter(isRecording) : [];
}

/** The recording in progress, if any. */
export function activeRecording(s: Storage = localStorage): ActiveRecording | null {
  const v = readJson(s, ACTIVE);
  return isActive(v) ? v : null;
}

/** A name for a recording the user did not name. */
export function defaultName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `Recording ${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}`;
}

/** Starts recording after event `lastId` (0 when there is none yet). */
export function startRecording(name: string, lastId: number, filter: TraceFilter, now: Date = new Date(), s: Storage = localStorage): ActiveRecording {
  const r: ActiveRecording = {
    name: name.trim() || defaultName(now),
    startId: Math.max(0, Math.floor(lastId)),
    startedAt: now.toISOString(),
    filter: { ...filter, kinds: [...filter.kinds] },
  };
  s.setItem(ACTIVE, JSON.stringify(r));
  return r;
}

/** Stops the recording in progress at event `lastId` and saves it; null if none was running. */
export function stopRecording(lastId: number, now: Date = new Date(), s: Storage = localStorage): Recording | null {
  const a = activeRecording(s);
  if (!a) return null;
  const all = recordings(s);
  let id = `rec-${now.getTime().toString(36)}-${a.startId}`;
  for (let n = 2; all.some((r) => r.id === id); n++) id = `rec-${now.getTime().toString(36)}-${a.startId}-${n}`;
  const r: Recording = { ...a, id, endId: Math.max(a.startId, Math.floor(lastId)), stoppedAt: now.toISOString() };
  s.setItem(LIST, JSON.stringify([r, ...all]));
  s.removeItem(ACTIVE);
  return r;
}

/** Abandons the recording in progress without saving it. */
export function cancelRecording(s: Storage = localStorage): void {
  s.removeItem(ACTIVE);
}

export function deleteRecording(id: string, s: Storage = localStorage): Recording[] {
  const left = recordings(s).filter((r) => r.id !== id);
  s.setItem(LIST, JSON.stringify(left));
  return left;
}

export function renameRecording(id: string, name: string, s: Storage = localStorage): Recording[] {
  const all = recordings(s).map((r) => (r.id === id && name.trim() ? { ...r, name: name.trim() } : r));
  s.setItem(LIST, JSON.stringify(all));
  return all;
}

/** The recording's events as API paging bounds: after its start, up to and including its end. */
export function recordingRange(r: Pick<Recording, "startId" | "endId">): Required<Pick<TraceParams, "afterId" | "beforeId">> {
  return { afterId: r.startId, beforeId: r.endId + 1 };
}

/** Whether the recording holds no event at all. */
export function isEmptyRecording(r: Pick<Recording, "startId" | "endId">): boolean {
  return r.endId <= r.startId;
}
