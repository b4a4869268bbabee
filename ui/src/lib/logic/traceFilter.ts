// The trace view's filters: the same filter sent to the hub (query and live
// stream) and applied to events already on screen, so changing a filter is
// instant and a live event is shown only when it matches.

import type { BodyPreview } from "../api/generated/BodyPreview";
import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { TraceParams } from "../api/hub";
import { eventKind } from "./eventKinds";
import { describe, previewLine } from "./story";

export interface TraceFilter {
  deviceId: string;
  /** Kinds or families: `c2d`, `method.timed_out`. Empty = all. */
  kinds: string[];
  text: string;
  /** ISO date-time or "". */
  since: string;
  until: string;
}

export const EMPTY_FILTER: TraceFilter = { deviceId: "", kinds: [], text: "", since: "", until: "" };

/** The families the filter offers, with the kinds in each. */
export const FAMILIES: { family: string; label: string }[] = [
  { family: "c2d", label: "C2D messages" },
  { family: "feedback", label: "Feedback" },
  { family: "method", label: "Direct methods" },
  { family: "telemetry", label: "Telemetry" },
  { family: "twin", label: "Twins" },
  { family: "module", label: "Module identities" },
  { family: "device", label: "Devices & connections" },
  { family: "service", label: "Back ends (AMQP)" },
  { family: "serial", label: "Serial lines" },
  { family: "sim", label: "Simulator" },
  { family: "settings", label: "Settings" },
];

/**
 * Whether `kind` is one of `wanted` (empty = all), read as the hub reads
 * them: `c2d`, `c2d.*` and `c2d*` are families, `c2d.enqueued` is exact.
 */
export function kindMatches(kind: string, wanted: string[]): boolean {
  const filters = wanted.map((w) => w.trim()).filter(Boolean);
  return (
    filters.length === 0 ||
    filters.some((w) => {
      const star = w.endsWith("*");
      const base = (star ? w.slice(0, -1) : w).replace(/\.+$/, "");
      if (star || !base.includes(".")) return kind.startsWith(`${base}.`);
      return kind === base;
    })
  );
}

/** Whether an event passes the filter (as the hub would decide). */
export function matches(e: TraceEventDto, f: TraceFilter): boolean {
  if (f.deviceId && !aboutDevice(e.deviceId, f.deviceId)) return false;
  if (!kindMatches(eventKind(e), f.kinds)) return false;
  const t = Date.parse(e.ts);
  if (f.since && t < Date.parse(f.since)) return false;
  // `until` is exclusive, like the hub's.
  if (f.until && t >= Date.parse(f.until)) return false;
  if (f.text) {
    // The hub's text test: ASCII letters in any case, on the correlation
    // keys and the detail's JSON (not the kind), so a live event shows
    // exactly when a reload would return it.
    const needle = foldCase(f.text);
    const has = (s: string) => foldCase(s).includes(needle);
    const keys = [e.deviceId, e.messageId, e.lockToken, e.requestId];
    if (!keys.some((k) => k && has(k)) && !has(JSON.stringify(e.detail ?? null))) return false;
  }
  return true;
}

/** Lower-cases ASCII letters only, as the hub's search does (SQLite's
 * `lower`), so both agree on every other character. */
export function foldCase(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** The filter as the API's query parameters. */
export function toParams(f: TraceFilter): TraceParams {
  return {
    deviceId: f.deviceId || undefined,
    kind: f.kinds.length ? f.kinds.join(",") : undefined,
    text: f.text || undefined,
    since: f.since ? new Date(f.since).toISOString() : undefined,
    until: f.until ? new Date(f.until).toISOString() : undefined,
  };
}

/** The body or payload an event carries, if any. */
export function eventBody(e: TraceEventDto): BodyPreview | null {
  switch (e.kind) {
    case "c2d.enqueued":
    case "telemetry.received":
      return e.detail.body;
    case "method.invoked":
    case "method.responded":
    case "method.late_response":
      return e.detail.payload;
    case "device.protocol":
      return e.detail.body ?? null;
    default:
      return null;
  }
}

/**
 * A short one-line summary of an event for the timeline: what happened
 * (the story's words) and what was sent or answered. A serial line is its
 * text; an event this Hublet cannot read shows its stored detail raw.
 */
export function summary(e: TraceEventDto): string {
  switch (e.kind) {
    case "serial.line":
    case "serial.sent":
      return (e.detail.text ?? (e.detail.hex ? `[hex] ${e.detail.hex}` : "")).replace(/[\r\n]+$/, "");
    case "unknown":
      return `${e.detail.kind}: ${JSON.stringify(e.detail.raw)}`;
    default:
      return [describe(e).label, previewLine(eventBody(e))].filter(Boolean).join(" ");
  }
}

/**
 * Whether an event's identity (`device` or `device/module`) falls under
 * the filter's, as the hub reads it: a device takes in its modules; a
 * `device/module` filter is that module alone.
 */
export function aboutDevice(eventId: string | undefined, wanted: string): boolean {
  if (eventId === undefined) return false;
  return eventId === wanted || (!wanted.includes("/") && eventId.startsWith(`${wanted}/`));
}
