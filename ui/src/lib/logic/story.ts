// A message's or a method call's whole story, from its trace events: the
// steps in order with their offsets, and how it ended. The hub returns the
// events (`/api/trace/story/{key}`); this turns them into what the timeline
// draws.

import type { TraceEventDto } from "../api/generated/TraceEventDto";

export type Tone = "ok" | "bad" | "warn" | "wait" | "info";

export interface StoryStep {
  id: number;
  ts: string;
  /** Milliseconds since the first step. */
  offsetMs: number;
  kind: string;
  label: string;
  tone: Tone;
}

export interface Story {
  subject: "message" | "call" | "unknown";
  deviceId: string | null;
  steps: StoryStep[];
  /** The last decisive step, or "in progress". */
  outcome: { label: string; tone: Tone };
  durationMs: number;
}

type Detail = Record<string, unknown>;

const str = (v: unknown): string => (v === null || v === undefined ? "" : String(v));

/** One event as a step's words and tone. */
export function describe(kind: string, d: Detail): { label: string; tone: Tone } {
  switch (kind) {
    case "c2d.enqueued":
      return { label: `enqueued (ack ${str(d.ack) || "none"})`, tone: "info" };
    case "c2d.delivered":
      return { label: `delivered${d.via ? ` over ${str(d.via)}` : ""}, attempt ${str(d.attempt)}`, tone: "wait" };
    case "c2d.completed":
      return { label: "completed by the device", tone: "ok" };
    case "c2d.abandoned":
      return { label: `abandoned (delivery count ${str(d.deliveryCount)} of ${str(d.maxDeliveryCount)})`, tone: "warn" };
    case "c2d.rejected":
      return { label: "rejected by the device", tone: "bad" };
    case "c2d.lock_expired":
      return { label: "lock expired without an answer", tone: "warn" };
    case "c2d.lock_released":
      return { label: "lock released (the device went away)", tone: "warn" };
    case "c2d.expired":
      return { label: "expired before it was completed", tone: "bad" };
    case "c2d.dead_lettered":
      return { label: `dead-lettered: ${str(d.reason)}`, tone: "bad" };
    case "c2d.purged":
      return { label: "purged", tone: "bad" };
    case "feedback.produced": {
      const code = str(d.statusCode);
      return { label: `feedback: ${code}`, tone: code === "Success" ? "ok" : "bad" };
    }
    case "feedback.batched":
      return { label: "feedback batched for the service", tone: "info" };
    case "feedback.received":
      return { label: "feedback received by the service", tone: "info" };
    case "feedback.completed":
      return { label: "feedback acknowledged by the service", tone: "ok" };
    case "method.invoked":
      return { label: `invoked ${str(d.methodName)}`, tone: "info" };
    case "method.delivered":
      return { label: "delivered to the device", tone: "wait" };
    case "method.responded": {
      const status = Number(d.status);
      const ms = typeof d.latencyMs === "number" ? ` in ${d.latencyMs.toFixed(1)} ms` : "";
      return { label: `answered ${status}${ms}`, tone: status >= 200 && status < 300 ? "ok" : "warn" };
    }
    case "method.timed_out":
      return { label: `timed out (${str(d.code)}) after ${str(d.responseTimeoutInSeconds)} s`, tone: "bad" };
    case "method.failed":
      return { label: `failed: ${str(d.code)} ${str(d.error)}`.trim(), tone: "bad" };
    case "method.late_response":
      return { label: `late answer ${str(d.status)} (ignored)`, tone: "warn" };
    default:
      return { label: kind, tone: "info" };
  }
}

const DECISIVE = new Set([
  "c2d.completed",
  "c2d.rejected",
  "c2d.expired",
  "c2d.dead_lettered",
  "c2d.purged",
  "method.responded",
  "method.timed_out",
  "method.failed",
]);

/** Assembles the story from events (any order). */
export function assembleStory(events: TraceEventDto[]): Story {
  const sorted = [...events].sort((a, b) => a.id - b.id);
  const t0 = sorted.length ? Date.parse(sorted[0].ts) : 0;
  const steps: StoryStep[] = sorted.map((e) => {
    const { label, tone } = describe(e.kind, (e.detail ?? {}) as Detail);
    return { id: e.id, ts: e.ts, offsetMs: Date.parse(e.ts) - t0, kind: e.kind, label, tone };
  });
  const subject = sorted.some((e) => e.kind.startsWith("c2d.")) ? "message" : sorted.some((e) => e.kind.startsWith("method.")) ? "call" : "unknown";
  const decisive = [...steps].reverse().find((s) => DECISIVE.has(s.kind));
  const feedback = [...steps].reverse().find((s) => s.kind === "feedback.produced");
  let outcome: Story["outcome"];
  if (decisive) {
    outcome = { label: decisive.label, tone: decisive.tone };
    if (feedback && feedback.id > decisive.id) outcome = { label: `${decisive.label}; ${feedback.label}`, tone: decisive.tone };
  } else {
    outcome = { label: steps.length ? "in progress" : "no events", tone: "wait" };
  }
  return {
    subject,
    deviceId: sorted.find((e) => e.deviceId)?.deviceId ?? null,
    steps,
    outcome,
    durationMs: steps.length ? steps[steps.length - 1].offsetMs : 0,
  };
}
