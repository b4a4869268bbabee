// Feedback records as the Feedback screen lists them: newest first, built
// live from `feedback.produced` trace events exactly as the hub builds them
// for `/api/feedback`, counted and filtered by outcome.

import type { FeedbackRecordDto } from "../api/generated/FeedbackRecordDto";
import type { FeedbackStatus } from "../api/generated/FeedbackStatus";
import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { Tone } from "./story";

/** Every outcome IoT Hub reports, in the order the screen shows them. */
export const OUTCOMES: readonly FeedbackStatus[] = ["Success", "Expired", "DeliveryCountExceeded", "Rejected", "Purged"];
export type Outcome = FeedbackStatus;

export function outcomeTone(status: string): Tone {
  switch (status) {
    case "Success":
      return "ok";
    case "Expired":
    case "DeliveryCountExceeded":
      return "warn";
    default:
      return "bad";
  }
}

/** The record a `feedback.produced` event describes (null for other events or an incomplete one). */
export function feedbackFromEvent(e: TraceEventDto): FeedbackRecordDto | null {
  if (e.kind !== "feedback.produced" || !e.messageId || !e.deviceId) return null;
  return {
    originalMessageId: e.messageId,
    deviceId: e.deviceId,
    deviceGenerationId: e.detail.deviceGenerationId,
    statusCode: e.detail.statusCode,
    description: e.detail.description,
    enqueuedTimeUtc: e.ts,
    traceId: e.id,
  };
}

/** A record's identity: its trace event, else its message and outcome. */
function key(r: FeedbackRecordDto): string {
  return r.traceId !== null && r.traceId !== undefined ? `t${r.traceId}` : `m${r.originalMessageId}|${r.statusCode}|${r.enqueuedTimeUtc}`;
}

function newer(a: FeedbackRecordDto, b: FeedbackRecordDto): number {
  if (a.traceId != null && b.traceId != null) return b.traceId - a.traceId;
  return Date.parse(b.enqueuedTimeUtc) - Date.parse(a.enqueuedTimeUtc);
}

/** `fresh` merged into `current`, newest first, each record once, at most `max`. */
export function mergeFeedback(current: readonly FeedbackRecordDto[], fresh: readonly FeedbackRecordDto[], max = 500): FeedbackRecordDto[] {
  const seen = new Set<string>();
  const out: FeedbackRecordDto[] = [];
  for (const r of [...fresh, ...current]) {
    const k = key(r);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(r);
  }
  out.sort(newer);
  return out.slice(0, max);
}

/** How many records have each outcome (every outcome present, unknown ones too). */
export function countByOutcome(records: readonly FeedbackRecordDto[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
  for (const r of records) counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
  return counts;
}

export interface FeedbackFilter {
  deviceId: string;
  /** An outcome, or "" for all. */
  outcome: string;
}

export function filterFeedback(records: readonly FeedbackRecordDto[], f: FeedbackFilter): FeedbackRecordDto[] {
  return records.filter((r) => (!f.deviceId || r.deviceId === f.deviceId) && (!f.outcome || r.statusCode === f.outcome));
}
