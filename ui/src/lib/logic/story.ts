// A message's or a method call's whole story, from its trace events: the
// steps in order with their offsets, and how it ended. The hub returns the
// events (`/api/trace/story/{key}`); this turns them into what the timeline
// draws.

import type { BodyPreview } from "../api/generated/BodyPreview";
import type { TraceEventDto } from "../api/generated/TraceEventDto";
import type { FeedbackDropReason } from "../api/generated/FeedbackDropReason";
import { type EventOf, eventKind, unreachable } from "./eventKinds";

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

/** A body or payload preview in one line: its text (line breaks folded) or its base64. */
export function previewLine(p: BodyPreview | null | undefined): string {
  if (!p) return "";
  const more = p.truncated ? "…" : "";
  if (typeof p.text === "string") return p.text.replace(/\s*[\r\n]+\s*/g, " ") + more;
  if (typeof p.base64 === "string") return `[base64] ${p.base64}${more}`;
  return "";
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A board's port event in a few words. */
function portWords(e: EventOf<"serial.port">["detail"]): string {
  switch (e.event) {
    case "opened":
      return "port opened";
    case "reappeared":
      return "board is back";
    case "disappeared":
      return "board unplugged";
    case "released":
      return "port released";
    case "dropped":
      return "port let go by the hub";
    case "openFailed":
      return "port cannot be opened";
    case "reset":
      return "board reset";
    case "hello":
      return `board said HELLO${e.firmware ? ` (firmware ${e.firmware})` : ""}`;
    default:
      return unreachable(e.event);
  }
}

/** What a simulated device did, in a few words. */
function simWords(d: EventOf<"sim.action">["detail"]): string {
  switch (d.action) {
    case "offline":
      return `went offline for ${d.detail.forSecs} s`;
    case "reconnect":
      return `reconnects in ${d.detail.backoffSecs} s after: ${d.detail.after}`;
    case "linkDropped":
      return "dropped its link";
    case "withholdAck":
      return `withheld the PUBACK of ${d.detail.messageId}`;
    case "reject":
      return `rejected ${d.detail.messageId}`;
    case "abandon":
      return `abandoned ${d.detail.messageId}`;
    case "settleFailed":
      return `could not ${d.detail.action} ${d.detail.messageId}`;
    case "ignoreMethod":
      return `ignored ${d.detail.method}`;
    case "failMethod":
      return `failed ${d.detail.method}`;
    case "fault":
      return d.detail.forSecs == null
        ? `fault injected: ${d.detail.fault}`
        : `fault injected: ${d.detail.fault} for ${d.detail.forSecs} s`;
    default:
      return unreachable(d);
  }
}

/**
 * One event as a step's words and tone. The switch covers every kind the
 * engine writes (the compiler checks it), and an event this Hublet cannot
 * read is named as stored.
 */
export function describe(e: TraceEventDto): { label: string; tone: Tone } {
  switch (e.kind) {
    case "device.created":
      return { label: `registered (${e.detail.kind}, ${e.detail.status})`, tone: "info" };
    case "device.deleted":
      return { label: `deleted (${plural(e.detail.droppedMessages, "queued message")} dropped)`, tone: "warn" };
    case "device.enabled":
      return { label: "enabled", tone: "ok" };
    case "device.disabled":
      return { label: `disabled${e.detail.statusReason ? `: ${e.detail.statusReason}` : ""}`, tone: "warn" };
    case "device.updated":
      return { label: e.detail.keysChanged ? "keys changed" : "updated", tone: "info" };
    case "device.attached":
      return { label: `connected over ${e.detail.via}${e.detail.remote ? ` from ${e.detail.remote}` : ""}`, tone: "ok" };
    case "device.detached": {
      const calm = ["closed", "shutdown", "replaced", "deleted", "disabled"].includes(e.detail.reason);
      return { label: `disconnected: ${e.detail.description}`, tone: calm ? "info" : "warn" };
    }
    case "device.auth_failed":
      return { label: `refused over ${e.detail.via} (${e.detail.code}): ${e.detail.reason}`, tone: "bad" };
    case "device.protocol":
      return { label: e.detail.code ? `${e.detail.what} (${e.detail.code})` : e.detail.what, tone: "warn" };
    case "c2d.enqueued":
      return { label: `enqueued (ack ${e.detail.ack})`, tone: "info" };
    case "c2d.delivered":
      return { label: `delivered over ${e.detail.via}, attempt ${e.detail.attempt}`, tone: "wait" };
    case "c2d.completed":
      return { label: "completed by the device", tone: "ok" };
    case "c2d.abandoned":
      return { label: `abandoned (delivery count ${e.detail.deliveryCount} of ${e.detail.maxDeliveryCount})`, tone: "warn" };
    case "c2d.rejected":
      return { label: "rejected by the device", tone: "bad" };
    case "c2d.lock_expired":
      return { label: "lock expired without an answer", tone: "warn" };
    case "c2d.lock_released":
      return { label: "lock released (the device went away)", tone: "warn" };
    case "c2d.expired":
      return { label: "expired before it was completed", tone: "bad" };
    case "c2d.dead_lettered":
      return { label: `dead-lettered: ${e.detail.reason}`, tone: "bad" };
    case "c2d.purged":
      return { label: "purged", tone: "bad" };
    case "feedback.produced":
      return { label: `feedback: ${e.detail.statusCode}`, tone: e.detail.statusCode === "Success" ? "ok" : "bad" };
    case "feedback.batched":
      return { label: `feedback batched for the service (${plural(e.detail.records, "record")})`, tone: "info" };
    case "feedback.received":
      return { label: `feedback received by the service${e.detail.via ? ` over ${e.detail.via}` : ""}`, tone: "info" };
    case "feedback.completed":
      return { label: "feedback acknowledged by the service", tone: "ok" };
    case "feedback.abandoned":
      return { label: `feedback abandoned by the service (delivery count ${e.detail.deliveryCount})`, tone: "warn" };
    case "feedback.dropped":
      return { label: `feedback dropped (${dropWords(e.detail.reason)})`, tone: "bad" };
    case "method.invoked":
      return { label: `invoked ${e.detail.methodName}`, tone: "info" };
    case "method.delivered":
      return { label: "delivered to the device", tone: "wait" };
    case "method.responded": {
      const status = e.detail.status;
      return { label: `answered ${status} in ${e.detail.latencyMs.toFixed(1)} ms`, tone: status >= 200 && status < 300 ? "ok" : "warn" };
    }
    case "method.timed_out":
      return { label: `timed out (${e.detail.code}) after ${e.detail.responseTimeoutInSeconds} s`, tone: "bad" };
    case "method.failed":
      return { label: `failed: ${e.detail.code} ${e.detail.error}`, tone: "bad" };
    case "method.late_response":
      return { label: `late answer ${e.detail.status} (ignored)`, tone: "warn" };
    case "telemetry.received":
      return { label: `telemetry over ${e.detail.via}`, tone: "info" };
    case "serial.line":
      return { label: `< ${e.detail.text ?? (e.detail.hex ? `[hex] ${e.detail.hex}` : "")}`, tone: e.detail.warning ? "warn" : "info" };
    case "serial.sent":
      return { label: `> ${e.detail.text ?? (e.detail.hex ? `[hex] ${e.detail.hex}` : "")}`, tone: "info" };
    case "serial.port": {
      const ev = e.detail.event;
      const tone: Tone = ev === "disappeared" || ev === "openFailed" ? "bad" : ev === "released" || ev === "dropped" ? "warn" : "info";
      return { label: portWords(e.detail), tone };
    }
    case "sim.action":
      return { label: `${simWords(e.detail)} (${e.detail.profile})`, tone: "info" };
    case "service.connected":
      return { label: `back end connected over ${e.detail.via} from ${e.detail.remote}${e.detail.mechanism ? ` (SASL ${e.detail.mechanism})` : ""}`, tone: "info" };
    case "service.authorized":
      return { label: `back end authorized as ${e.detail.policy}`, tone: "ok" };
    case "service.auth_failed":
      return { label: `back end refused (${e.detail.code}): ${e.detail.reason}`, tone: "bad" };
    case "service.link_attached":
      return { label: `back end attached ${e.detail.address}`, tone: "info" };
    case "service.link_detached":
      return { label: `back end link ${e.detail.address} ended${e.detail.reason ? `: ${e.detail.reason}` : ""}`, tone: e.detail.reason ? "warn" : "info" };
    case "service.disconnected":
      return { label: `back end disconnected${e.detail.reason ? `: ${e.detail.reason}` : ""}`, tone: e.detail.reason ? "warn" : "info" };
    case "twin.updated": {
      const d = e.detail;
      if (d.by === "device") {
        return { label: `reported properties v${d.reportedVersion}: ${JSON.stringify(d.reported ?? {})}`, tone: "ok" };
      }
      const parts = [d.desired !== undefined ? `desired ${JSON.stringify(d.desired)}` : "", d.tags !== undefined ? `tags ${JSON.stringify(d.tags)}` : ""].filter(Boolean);
      return { label: `twin ${d.op === "replace" ? "replaced" : "updated"} (desired v${d.desiredVersion}): ${parts.join(", ")}`, tone: "info" };
    }
    case "module.created":
      return { label: `module ${e.detail.moduleId} created${e.detail.managedBy ? ` (managed by ${e.detail.managedBy})` : ""}`, tone: "info" };
    case "module.updated":
      return { label: `module ${e.detail.moduleId} updated${e.detail.keysChanged ? ": new keys" : ""}`, tone: "info" };
    case "module.deleted":
      return { label: `module ${e.detail.moduleId} deleted with its twin`, tone: "warn" };
    case "settings.changed":
      return { label: `settings changed: ${Object.keys(e.detail.changes).join(", ")}`, tone: "info" };
    case "unknown":
      return { label: `${e.detail.kind} (not understood by this Hublet; shown as stored)`, tone: "info" };
    default:
      return unreachable(e);
  }
}

function dropWords(reason: FeedbackDropReason): string {
  switch (reason) {
    case "expired":
      return "expired unread";
    case "deliveryCountExceeded":
      return "abandoned too often";
    case "rejected":
      return "rejected by its receiver";
    default:
      return unreachable(reason);
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
    const { label, tone } = describe(e);
    return { id: e.id, ts: e.ts, offsetMs: Date.parse(e.ts) - t0, kind: eventKind(e), label, tone };
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
