import { describe, expect, it } from "vitest";
import { deliveriesTitle, messageNote } from "../src/lib/logic/mailbox";

const NOW = Date.parse("2030-01-01T12:00:00.000Z");
const msg = (p: Partial<Parameters<typeof messageNote>[0]> = {}) => ({
  state: "Enqueued" as const,
  expiryTimeUtc: "2030-01-01T13:00:00.000Z",
  deliveryCount: 0,
  attempts: 0,
  ...p,
});

describe("messageNote", () => {
  it("says nothing about a message within its time to live", () => {
    expect(messageNote(msg(), NOW)).toBeNull();
    expect(messageNote(msg({ state: "Invisible", attempts: 1 }), NOW)).toBeNull();
  });

  it("explains an expired message the device still holds: completable until the lock ends, then dead-lettered", () => {
    const note = messageNote(msg({ state: "Invisible", expiryTimeUtc: "2030-01-01T11:59:00.000Z", attempts: 1 }), NOW);
    expect(note).toMatch(/may still complete it until its lock ends/);
    expect(note).toMatch(/dead-lettered as Expired, not delivered again/);
  });

  it("explains an expired message still waiting: it will not be delivered", () => {
    expect(messageNote(msg({ expiryTimeUtc: "2030-01-01T12:00:00.000Z" }), NOW)).toMatch(/dead-lettered instead of being delivered/);
  });
});

describe("deliveriesTitle", () => {
  it("tells the delivery count (abandons) from the attempts, as in 'Deliveries 0 (1)'", () => {
    const t = deliveriesTitle(msg({ state: "Invisible", deliveryCount: 0, attempts: 1 }));
    expect(t).toMatch(/Delivery count 0: abandoned 0 times/);
    expect(t).toMatch(/handed to a device 1 time,/);
  });
});
