import { describe, expect, it } from "vitest";
import { foldOutcomes, isOutcomeEvent } from "../src/lib/logic/outcomes";
import { EVENTS, one, storyOf, variant } from "./support/events";

describe("isOutcomeEvent", () => {
  it("takes c2d events and produced feedback that name a message", () => {
    expect(isOutcomeEvent(one("c2d.completed"))).toBe(true);
    expect(isOutcomeEvent(one("feedback.produced"))).toBe(true);
    expect(isOutcomeEvent(one("feedback.batched"))).toBe(false);
    expect(isOutcomeEvent(variant(one("c2d.completed"), { messageId: undefined }))).toBe(false);
    expect(isOutcomeEvent(one("method.invoked"))).toBe(false);
  });
});

describe("foldOutcomes", () => {
  it("chains a completed message with its feedback", () => {
    const [o] = foldOutcomes(storyOf("m-complete"));
    expect(o.messageId).toBe("m-complete");
    expect(o.steps.map((s) => s.label)).toEqual(["enqueued", "delivered #1", "completed", "feedback Success"]);
    expect(o.state).toBe("completed");
    expect(o.tone).toBe("ok");
    expect(o.feedback).toBe("Success");
  });

  it("reports a rejection as its decisive (last terminal) step with a bad tone", () => {
    const [o] = foldOutcomes(storyOf("m-reject"));
    expect(o.state).toBe("dead-lettered");
    expect(o.tone).toBe("bad");
    expect(o.steps.map((s) => s.label)).toContain("dead-lettered (Rejected)");
    expect(o.feedback).toBe("Rejected");
  });

  it("says in queue until a terminal step arrives", () => {
    const [o] = foldOutcomes(storyOf("m-expire-lock"));
    expect(o.state).toBe("in queue");
    expect(o.tone).toBe("wait");
    expect(o.feedback).toBeNull();
    expect(o.steps.map((s) => s.label)).toEqual(["enqueued", "delivered #1", "lock expired", "delivered #2", "lock released"]);
  });

  it("orders steps by id whatever the input order, and counts repeated events once", () => {
    const [a, b, c] = storyOf("m-complete");
    const [o] = foldOutcomes([c, a, b, c, a]);
    expect(o.steps.map((s) => s.kind)).toEqual(["c2d.enqueued", "c2d.delivered", "c2d.completed"]);
    expect(o.lastId).toBe(c.id);
    expect(o.ts).toBe(c.ts);
  });

  it("puts the most recently active message first and keeps `limit`", () => {
    const ids = foldOutcomes([...EVENTS]).map((o) => o.messageId);
    expect(ids[0]).toBe("m-purge-2");
    expect(ids).toContain("m-complete");
    expect(foldOutcomes([...EVENTS], 2).map((o) => o.messageId)).toEqual(ids.slice(0, 2));
  });

  it("ignores unrelated events", () => {
    expect(foldOutcomes([one("telemetry.received"), one("feedback.batched")])).toEqual([]);
  });
});
