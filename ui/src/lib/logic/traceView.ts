// How the trace timeline shows events: a kind's family and tone, offsets
// in a story, a story's path in a few words, and the in-memory window of
// events (appended in batches, capped so a long session stays fast).

import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { Story, Tone } from "./story";

/** The family of a kind: `c2d.enqueued` → `c2d`. */
export function kindFamily(kind: string): string {
  const dot = kind.indexOf(".");
  return dot < 0 ? kind : kind.slice(0, dot);
}

/** Kinds that mean something went wrong, whatever their family. */
const FAILURES = new Set([
  "device.auth_failed",
  "c2d.rejected",
  "c2d.expired",
  "c2d.dead_lettered",
  "c2d.purged",
  "feedback.dropped",
  "method.timed_out",
  "method.failed",
]);

/** Warnings: the hub recovered, but someone should look. */
const WARNINGS = new Set(["c2d.abandoned", "c2d.lock_expired", "c2d.lock_released", "method.late_response", "device.protocol", "feedback.abandoned"]);

/** The tone an event is drawn in when it is a failure or warning, else null (the family's color). */
export function kindAlert(e: TraceEventDto): Tone | null {
  if (FAILURES.has(e.kind)) return "bad";
  if (WARNINGS.has(e.kind)) return "warn";
  if (e.kind === "feedback.produced") return e.detail.statusCode === "Success" ? "ok" : "bad";
  if (e.kind === "method.responded") return e.detail.status >= 200 && e.detail.status < 300 ? null : "warn";
  return null;
}

/** The message id or request id that opens an event's story, if any. */
export function storyKey(e: Pick<TraceEventDto, "messageId" | "requestId">): string | null {
  return e.messageId || e.requestId || null;
}

/** `+0 ms`, `+12 ms`, `+1.25 s`, `+2 min 3 s`: a step's time after the first. */
export function formatOffset(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  const sign = ms < 0 ? "−" : "+";
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(a < 10_000 ? 2 : 1)} s`;
  if (a < 3_600_000) return `${sign}${Math.floor(a / 60_000)} min ${Math.floor((a % 60_000) / 1000)} s`;
  return `${sign}${Math.floor(a / 3_600_000)} h ${Math.floor((a % 3_600_000) / 60_000)} min`;
}

/** A step's kind in one or two words, for the story's path. */
function shortStep(kind: string, label: string): string {
  switch (kind) {
    case "feedback.produced":
    case "method.responded":
      return label.replace(/ in [\d.]+ ms$/, "");
    case "method.invoked":
      return "invoked";
    case "method.timed_out":
      return "timed out";
    case "method.failed":
      return "failed";
    case "method.late_response":
      return "late answer";
    case "c2d.dead_lettered":
      return label;
    case "c2d.completed":
      return "completed";
    case "c2d.rejected":
      return "rejected";
    case "c2d.delivered":
      return "delivered";
    default: {
      const dot = kind.indexOf(".");
      return (dot < 0 ? kind : kind.slice(dot + 1)).replace(/_/g, " ");
    }
  }
}

/**
 * The story's path in a few words: `enqueued → delivered → completed →
 * feedback: Success`. Repeats in a row collapse: `delivered ×3`.
 */
export function storyPath(story: Story): string {
  const parts: { text: string; n: number }[] = [];
  for (const s of story.steps) {
    const text = shortStep(s.kind, s.label);
    const last = parts[parts.length - 1];
    if (last && last.text === text) last.n++;
    else parts.push({ text, n: 1 });
  }
  return parts.map((p) => (p.n > 1 ? `${p.text} ×${p.n}` : p.text)).join(" → ");
}

/** Most events the timeline keeps in memory. */
export const MAX_EVENTS = 1_000_000;

/**
 * `current` followed by the events of `batch` newer than its last one,
 * keeping only the newest `cap`. Returns how many old events were dropped.
 * Both inputs are in id order; `current` is not modified.
 */
export function appendCapped<T extends { id: number }>(current: readonly T[], batch: readonly T[], cap = MAX_EVENTS): { events: T[]; dropped: number } {
  const lastId = current.length ? current[current.length - 1].id : -Infinity;
  const fresh = batch.length && batch[0].id > lastId ? batch : batch.filter((e) => e.id > lastId);
  const total = current.length + fresh.length;
  if (total <= cap) return { events: fresh.length ? current.concat(fresh) : (current as T[]), dropped: 0 };
  const dropped = total - cap;
  if (dropped >= current.length) return { events: fresh.slice(fresh.length - cap), dropped };
  return { events: current.slice(dropped).concat(fresh), dropped };
}

/**
 * `older` (in id order, all older than `current`'s first) put in front of
 * `current`, as far as the cap allows. Returns how many were added.
 */
export function prependCapped<T extends { id: number }>(current: readonly T[], older: readonly T[], cap = MAX_EVENTS): { events: T[]; added: number } {
  const firstId = current.length ? current[0].id : Infinity;
  const fit = older.filter((e) => e.id < firstId);
  const room = Math.max(0, cap - current.length);
  const taken = fit.slice(Math.max(0, fit.length - room));
  return { events: taken.length ? taken.concat(current) : (current as T[]), added: taken.length };
}
