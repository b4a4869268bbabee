// The trace view's filters: the same filter sent to the hub (query and live
// stream) and applied to events already on screen, so changing a filter is
// instant and a live event is shown only when it matches.

import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { TraceParams } from "../api/hub";

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
  { family: "device", label: "Devices & connections" },
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
  if (f.deviceId && e.deviceId !== f.deviceId) return false;
  if (!kindMatches(e.kind, f.kinds)) return false;
  const t = Date.parse(e.ts);
  if (f.since && t < Date.parse(f.since)) return false;
  // `until` is exclusive, like the hub's.
  if (f.until && t >= Date.parse(f.until)) return false;
  if (f.text) {
    // The hub's text test: case-sensitive, on the correlation keys and the
    // detail's JSON (not the kind), so a live event shows exactly when a
    // reload would return it.
    const keys = [e.deviceId, e.messageId, e.lockToken, e.requestId];
    if (!keys.some((k) => k && k.includes(f.text)) && !JSON.stringify(e.detail ?? null).includes(f.text)) return false;
  }
  return true;
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

/**
 * A body or payload as the hub traces it (`{text|base64, size, truncated}`,
 * see `body_preview`) in one line; plain strings pass through.
 */
export function preview(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v !== "object") return String(v);
  const p = v as Record<string, unknown>;
  const more = p.truncated ? "…" : "";
  if (typeof p.text === "string") return p.text.replace(/\s*[\r\n]+\s*/g, " ") + more;
  if (typeof p.base64 === "string") return `[base64] ${p.base64}${more}`;
  return JSON.stringify(v);
}

/** A short one-line summary of an event for the timeline. */
export function summary(e: TraceEventDto): string {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  switch (e.kind) {
    case "serial.line":
    case "serial.sent":
      return String(d.text ?? (d.hex ? `[hex] ${String(d.hex)}` : "")).replace(/[\r\n]+$/, "");
    case "telemetry.received":
      return preview(d.body);
    case "device.attached":
    case "device.detached":
      return [d.transport, d.reason, d.remote].filter(Boolean).map(String).join(" · ");
    default: {
      const keys = ["methodName", "status", "statusCode", "reason", "attempt", "deliveryCount", "ack", "action", "event", "what"];
      const fields = keys
        .filter((k) => d[k] !== undefined && d[k] !== null)
        .map((k) => `${k}=${typeof d[k] === "object" ? JSON.stringify(d[k]) : String(d[k])}`);
      // What was sent or answered: the body of a message, the payload of a call.
      const body = preview(d.body ?? d.payload);
      return [...fields, body].filter(Boolean).join(" ");
    }
  }
}
