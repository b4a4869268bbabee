// What became of a device's recent C2D messages, from trace events: the
// short chain a user reads at a glance ("enqueued → delivered #1 →
// completed → feedback Success"), which stays visible after the message
// has left the queue (the mailbox only shows what is still in it).

import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { EventOf } from "./eventKinds";
import { describe as describeStep, type Tone } from "./story";

export interface OutcomeStep {
  id: number;
  kind: string;
  /** A few words: "delivered #2", "feedback Success". */
  label: string;
  tone: Tone;
}

export interface MessageOutcome {
  messageId: string;
  steps: OutcomeStep[];
  /** Time of the latest step. */
  ts: string;
  /** Id of the latest step (for ordering). */
  lastId: number;
  /** "in queue", "completed", "rejected"… from the decisive step. */
  state: string;
  tone: Tone;
  /** Feedback status code, once the hub produced the record. */
  feedback: string | null;
}


const TERMINAL: Record<string, string> = {
  "c2d.completed": "completed",
  "c2d.rejected": "rejected",
  "c2d.expired": "expired",
  "c2d.dead_lettered": "dead-lettered",
  "c2d.purged": "purged",
};

/** Whether an event is part of a message's outcome. */
export function isOutcomeEvent(e: TraceEventDto): boolean {
  return !!e.messageId && (e.kind.startsWith("c2d.") || e.kind === "feedback.produced");
}

function shortLabel(e: TraceEventDto): string {
  switch (e.kind) {
    case "c2d.delivered":
      return `delivered #${e.detail.attempt}`;
    case "c2d.dead_lettered":
      return `dead-lettered (${e.detail.reason})`;
    case "c2d.lock_expired":
      return "lock expired";
    case "c2d.lock_released":
      return "lock released";
    case "feedback.produced":
      return `feedback ${e.detail.statusCode}`;
    default:
      return e.kind.replace(/^c2d\./, "");
  }
}

/**
 * Groups events by message id into outcomes, the most recently active
 * message first, at most `limit` of them. Events may come in any order and
 * repeat (a query and the live stream overlap); each id counts once.
 */
export function foldOutcomes(events: TraceEventDto[], limit = 20): MessageOutcome[] {
  const byMessage = new Map<string, Map<number, TraceEventDto>>();
  for (const e of events) {
    if (!isOutcomeEvent(e)) continue;
    const id = e.messageId as string;
    let m = byMessage.get(id);
    if (!m) byMessage.set(id, (m = new Map()));
    m.set(e.id, e);
  }
  const out: MessageOutcome[] = [];
  for (const [messageId, m] of byMessage) {
    const sorted = [...m.values()].sort((a, b) => a.id - b.id);
    const steps = sorted.map((e) => ({ id: e.id, kind: e.kind, label: shortLabel(e), tone: describeStep(e).tone }));
    const last = sorted[sorted.length - 1];
    const decisive = [...steps].reverse().find((s) => s.kind in TERMINAL);
    const fb = [...sorted].reverse().find((e): e is EventOf<"feedback.produced"> => e.kind === "feedback.produced");
    out.push({
      messageId,
      steps,
      ts: last.ts,
      lastId: last.id,
      state: decisive ? TERMINAL[decisive.kind] : "in queue",
      tone: decisive ? decisive.tone : "wait",
      feedback: fb ? fb.detail.statusCode : null,
    });
  }
  return out.sort((a, b) => b.lastId - a.lastId).slice(0, limit);
}
