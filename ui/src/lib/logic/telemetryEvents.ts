// Telemetry as the trace records it: `telemetry.received` events whose
// `detail.body` is a preview ({text | base64, size, truncated}), turned into
// the points the chart and the table use.

import type { BodyPreview as TracePreview } from "../api/generated/BodyPreview";
import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { TelemetryPoint } from "./telemetry";

/** A trace body preview with both forms present (null for the one it lacks). */
export interface BodyPreview {
  /** The body as text, when it is UTF-8. */
  text: string | null;
  /** The body as base64, when it is not. */
  base64: string | null;
  /** Size of the whole body in bytes. */
  size: number;
  /** The preview is cut (the body was larger than the trace keeps). */
  truncated: boolean;
}

/** The hub's preview with both forms present. */
export function bodyPreview(p: TracePreview): BodyPreview {
  return { text: p.text ?? null, base64: p.base64 ?? null, size: p.size, truncated: p.truncated };
}

export interface TelemetryRow {
  id: number;
  ts: string;
  body: BodyPreview;
  contentType: string | null;
  properties: Record<string, string>;
  via: string | null;
}

/** A `telemetry.received` event as a table row; null for other events. */
export function telemetryRow(e: TraceEventDto): TelemetryRow | null {
  if (e.kind !== "telemetry.received") return null;
  const d = e.detail;
  const props: Record<string, string> = {};
  // A bare key (no value) shows as the empty string.
  for (const [k, v] of Object.entries(d.properties)) props[k] = v ?? "";
  return { id: e.id, ts: e.ts, body: bodyPreview(d.body), contentType: d.contentType, properties: props, via: d.via };
}

/** Chart points from rows: only whole text bodies (a cut JSON body would not parse). */
export function telemetryPoints(rows: TelemetryRow[]): TelemetryPoint[] {
  const out: TelemetryPoint[] = [];
  for (const r of rows) {
    if (r.body.text === null || r.body.truncated) continue;
    const t = Date.parse(r.ts);
    if (!Number.isNaN(t)) out.push({ t, body: r.body.text });
  }
  return out;
}

/** Adds rows (newest first), dropping ids already present, keeping at most `max`. */
export function mergeRows(current: TelemetryRow[], incoming: TelemetryRow[], max = 1000): TelemetryRow[] {
  const seen = new Set(current.map((r) => r.id));
  const fresh = incoming.filter((r) => !seen.has(r.id));
  if (fresh.length === 0) return current;
  return [...fresh, ...current].sort((a, b) => b.id - a.id).slice(0, max);
}
