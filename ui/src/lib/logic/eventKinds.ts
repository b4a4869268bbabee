// Every kind of trace event, at run time. The type `EventKind` comes from
// the engine (ts-rs); the record below must name each kind exactly once, so
// the compiler rejects it when the engine adds, renames or drops a kind.

import type { EventKind } from "../api/generated/EventKind";
import type { TraceEventDto } from "../api/generated/TraceEventDto";

const KINDS: Record<EventKind, true> = {
  "device.created": true,
  "device.deleted": true,
  "device.enabled": true,
  "device.disabled": true,
  "device.updated": true,
  "device.attached": true,
  "device.detached": true,
  "device.auth_failed": true,
  "device.protocol": true,
  "c2d.enqueued": true,
  "c2d.delivered": true,
  "c2d.completed": true,
  "c2d.abandoned": true,
  "c2d.rejected": true,
  "c2d.lock_expired": true,
  "c2d.lock_released": true,
  "c2d.expired": true,
  "c2d.dead_lettered": true,
  "c2d.purged": true,
  "feedback.produced": true,
  "feedback.batched": true,
  "feedback.received": true,
  "feedback.completed": true,
  "feedback.abandoned": true,
  "feedback.dropped": true,
  "method.invoked": true,
  "method.delivered": true,
  "method.responded": true,
  "method.timed_out": true,
  "method.failed": true,
  "method.late_response": true,
  "telemetry.received": true,
  "serial.line": true,
  "serial.sent": true,
  "serial.port": true,
  "sim.action": true,
  "service.connected": true,
  "service.authorized": true,
  "service.auth_failed": true,
  "service.link_attached": true,
  "service.link_detached": true,
  "service.disconnected": true,
  "twin.updated": true,
  "module.created": true,
  "module.updated": true,
  "module.deleted": true,
  "settings.changed": true,
};

/** Every kind the engine writes, in its order. */
export const ALL_KINDS = Object.keys(KINDS) as EventKind[];

/** Whether `k` is a kind this UI knows. */
export function isEventKind(k: string): k is EventKind {
  return Object.prototype.hasOwnProperty.call(KINDS, k);
}

/** The event of one kind, narrowed. */
export type EventOf<K extends TraceEventDto["kind"]> = Extract<TraceEventDto, { kind: K }>;

/** The kind an event is about: its own, or the stored kind of an event this Hublet cannot read. */
export function eventKind(e: TraceEventDto): string {
  return e.kind === "unknown" ? e.detail.kind : e.kind;
}

/** For exhaustive switches: the compiler proves this is never reached. */
export function unreachable(x: never): never {
  throw new Error(`unhandled trace event: ${JSON.stringify(x)}`);
}
