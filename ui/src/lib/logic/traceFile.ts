// Trace files: reading a JSON Lines export back (the hub's
// `/api/trace/export?format=jsonl`, one event object per line, the API's
// event shape), and writing events in the hub's two export formats so a
// filtered view of an imported file can be saved again.

import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { JsonValue } from "../api/generated/serde_json/JsonValue";
import type { UnknownDetail } from "../api/generated/UnknownDetail";
import { eventKind, isEventKind } from "./eventKinds";

function isUnknownDetail(d: JsonValue): d is UnknownDetail & { [k: string]: JsonValue } {
  return d !== null && typeof d === "object" && !Array.isArray(d) && typeof d.kind === "string" && "raw" in d;
}

export interface BadLine {
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

export interface ParsedTrace {
  /** The good events, in id order, each id once. */
  events: TraceEventDto[];
  /** How many non-blank lines could not be read. */
  badCount: number;
  /** The first few bad lines, to show why. */
  bad: BadLine[];
  /** Events whose id appeared on an earlier line too (the later copy is skipped). */
  duplicates: number;
}

/** How many bad lines are kept with their reason. */
export const BAD_LINES_KEPT = 5;

const optionalText = (v: unknown): v is string | null | undefined => v === undefined || v === null || typeof v === "string";

/** One parsed line as an event, or why it is not one. */
export function toEvent(v: unknown): TraceEventDto | string {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not a JSON object";
  const o = v as Record<string, unknown>;
  if (typeof o.id !== "number" || !Number.isSafeInteger(o.id)) return "no integer 'id'";
  if (typeof o.kind !== "string" || !o.kind) return "no 'kind'";
  // The hub writes RFC 3339 text; it also reads epoch milliseconds.
  let ts: string;
  if (typeof o.ts === "string" && !Number.isNaN(Date.parse(o.ts))) ts = o.ts;
  else if (typeof o.ts === "number" && Number.isFinite(o.ts)) ts = new Date(o.ts).toISOString();
  else return "no valid 'ts'";
  for (const k of ["deviceId", "messageId", "lockToken", "requestId"] as const) {
    if (!optionalText(o[k])) return `'${k}' is not text`;
  }
  const common = { id: o.id, ts, monoUs: typeof o.monoUs === "number" ? o.monoUs : 0 };
  const detail = (o.detail ?? null) as JsonValue;
  // A kind this UI knows carries its typed detail (the hub wrote it); any
  // other is kept as an unknown event and shown as stored, as the hub does.
  let e: TraceEventDto;
  if (o.kind === "unknown" && isUnknownDetail(detail)) e = { ...common, kind: "unknown", detail };
  else if (isEventKind(o.kind) && detail !== null && typeof detail === "object" && !Array.isArray(detail)) e = { ...common, kind: o.kind, detail } as TraceEventDto;
  else e = { ...common, kind: "unknown", detail: { kind: o.kind, raw: detail } };
  if (o.deviceId) e.deviceId = o.deviceId as string;
  if (o.messageId) e.messageId = o.messageId as string;
  if (o.lockToken) e.lockToken = o.lockToken as string;
  if (o.requestId) e.requestId = o.requestId as string;
  return e;
}

/**
 * Reads a JSON Lines trace. Blank lines are skipped; a line that is not an
 * event is counted (with the first few reasons), never fatal.
 */
export function parseJsonl(text: string): ParsedTrace {
  const events: TraceEventDto[] = [];
  const bad: BadLine[] = [];
  let badCount = 0;
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let reason: string;
    try {
      const e = toEvent(JSON.parse(line));
      if (typeof e !== "string") {
        events.push(e);
        continue;
      }
      reason = e;
    } catch {
      reason = "not valid JSON";
    }
    badCount++;
    if (bad.length < BAD_LINES_KEPT) bad.push({ line: i + 1, reason });
  }
  // A file may be two exports concatenated or hand-edited: order by id, once each.
  events.sort((a, b) => a.id - b.id);
  const unique: TraceEventDto[] = [];
  let duplicates = 0;
  for (const e of events) {
    if (unique.length && unique[unique.length - 1].id === e.id) duplicates++;
    else unique.push(e);
  }
  return { events: unique, badCount, bad, duplicates };
}

/** Events as JSON Lines, the hub's export shape. */
export function toJsonl(events: readonly TraceEventDto[]): string {
  return events.map((e) => JSON.stringify(e)).join("\n") + (events.length ? "\n" : "");
}

/** The hub's CSV columns, in order: the JSON Lines field names. */
export const CSV_COLUMNS = ["id", "ts", "monoUs", "kind", "deviceId", "messageId", "lockToken", "requestId", "detail"];

/** A CSV field, quoted only when it must be (as the hub's writer does). */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Events as CSV with the hub's columns (`detail` as compact JSON). */
export function toCsv(events: readonly TraceEventDto[]): string {
  const rows = [CSV_COLUMNS.join(",")];
  for (const e of events) {
    rows.push(
      [String(e.id), e.ts, String(e.monoUs), eventKind(e), e.deviceId ?? "", e.messageId ?? "", e.lockToken ?? "", e.requestId ?? "", JSON.stringify(e.kind === "unknown" ? e.detail.raw : e.detail)]
        .map(csvField)
        .join(","),
    );
  }
  return rows.join("\n") + "\n";
}
