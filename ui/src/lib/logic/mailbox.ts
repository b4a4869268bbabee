// What the mailbox table's numbers and states mean when they surprise: an
// expired message still locked, a delivery count of 0 after a delivery.
// The rules are the engine's (docs/semantics.md, "Expiry of a locked
// message" and "What the delivery count counts").

import type { MessageDto } from "../api/generated/MessageDto";

type Queued = Pick<MessageDto, "state" | "expiryTimeUtc" | "deliveryCount" | "attempts">;

/** A sentence for a message whose state needs one, else null. */
export function messageNote(m: Queued, now: number): string | null {
  if (Date.parse(m.expiryTimeUtc) > now) return null;
  if (m.state === "Invisible") {
    return "Expired while the device holds it: the device may still complete it until its lock ends; then it is dead-lettered as Expired, not delivered again.";
  }
  return "Expired: it is dead-lettered instead of being delivered (the hub sweeps every second).";
}

/** The Deliveries cell's explanation: IoT Hub's delivery count, then attempts. */
export function deliveriesTitle(m: Queued): string {
  const times = (n: number) => `${n} time${n === 1 ? "" : "s"}`;
  return (
    `Delivery count ${m.deliveryCount}: abandoned ${times(m.deliveryCount)} (IoT Hub's count, compared with the max delivery count; a lock that runs out does not raise it). ` +
    `In brackets, attempts: handed to a device ${times(m.attempts)}, lock expiries included.`
  );
}
