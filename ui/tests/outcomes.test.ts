import { describe, expect, it } from "vitest";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import { foldOutcomes, isOutcomeEvent } from "../src/lib/logic/outcomes";

let nextId = 1;
function ev(kind: string, messageId: string | null, detail: Record<string, unknown> = {}, id = nextId++): TraceEventDto {
  return { id, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(), monoUs: id, kind, deviceId: "d1", messageId, detail: detail as TraceEventDto["detail"] };
}

describe("isOutcomeEvent", () => {
  it("takes c2d events and produced feedback that name a message", () => {
    expect(isOutcomeEvent(ev("c2d.completed", "m1"))).toBe(true);
    expect(isOutcomeEvent(ev("feedback.produced", "m1"))).toBe(true);
    expect(isOutcomeEvent(ev("feedback.batched", "m1"))).toBe(false);
    expect(isOutcomeEvent(ev("c2d.completed", null))).toBe(false);
    expect(isOutcomeEvent(ev("method.invoked", "m1"))).toBe(false);
  });
});

describe("foldOutcomes", () => {
  it("chains a completed message with its feedback", () => {
    const [o] = foldOutcomes([
      ev("c2d.enqueued", "m1", { ack: "full" }),
      ev("c2d.delivered", "m1", { attempt: 1 }),
      ev("c2d.completed", "m1"),
      ev("feedback.produced", "m1", { statusCode: "Success" }),
    ]);
    expect(o.messageId).toBe("m1");
    expect(o.steps.map((s) => s.label)).toEqual(["enqueued", "delivered #1", "completed", "feedback Success"]);
    expect(o.state).toBe("completed");
    expect(o.tone).toBe("ok");
    expect(o.feedback).toBe("Success");
  });

  it("reports a rejection as its decisive (last terminal) step with a bad tone", () => {
    const [o] = foldOutcomes([
      ev("c2d.enqueued", "m2"),
      ev("c2d.delivered", "m2", { attempt: 1 }),
      ev("c2d.rejected", "m2"),
      ev("c2d.dead_lettered", "m2", { reason: "Rejected" }),
      ev("feedback.produced", "m2", { statusCode: "Rejected" }),
    ]);
    expect(o.state).toBe("dead-lettered");
    expect(o.tone).toBe("bad");
    expect(o.steps.map((s) => s.label)).toContain("dead-lettered (Rejected)");
    expect(o.feedback).toBe("Rejected");
  });

  it("says in queue until a terminal step arrives", () => {
    const [o] = foldOutcomes([ev("c2d.enqueued", "m3"), ev("c2d.delivered", "m3", { attempt: 1 }), ev("c2d.abandoned", "m3")]);
    expect(o.state).toBe("in queue");
    expect(o.tone).toBe("wait");
    expect(o.feedback).toBeNull();
  });

  it("orders steps by id whatever the input order, and counts repeated events once", () => {
    const a = ev("c2d.enqueued", "m4");
    const b = ev("c2d.delivered", "m4", { attempt: 1 });
    const c = ev("c2d.completed", "m4");
    const [o] = foldOutcomes([c, a, b, c, a]);
    expect(o.steps.map((s) => s.kind)).toEqual(["c2d.enqueued", "c2d.delivered", "c2d.completed"]);
    expect(o.lastId).toBe(c.id);
    expect(o.ts).toBe(c.ts);
  });

  it("puts the most recently active message first and keeps `limit`", () => {
    const events = [ev("c2d.enqueued", "old"), ev("c2d.enqueued", "mid"), ev("c2d.enqueued", "new"), ev("c2d.completed", "old")];
    expect(foldOutcomes(events).map((o) => o.messageId)).toEqual(["old", "new", "mid"]);
    expect(foldOutcomes(events, 2).map((o) => o.messageId)).toEqual(["old", "new"]);
  });

  it("ignores unrelated events", () => {
    expect(foldOutcomes([ev("telemetry.received", null), ev("feedback.batched", null)])).toEqual([]);
  });
});
