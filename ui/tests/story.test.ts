import { describe, expect, it } from "vitest";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import type { JsonValue } from "../src/lib/api/generated/serde_json/JsonValue";
import { assembleStory, describe as describeStep } from "../src/lib/logic/story";

const T0 = Date.parse("2024-05-01T10:00:00.000Z");
function ev(id: number, ms: number, kind: string, detail: { [k: string]: JsonValue } = {}, p: Partial<TraceEventDto> = {}): TraceEventDto {
  return { id, ts: new Date(T0 + ms).toISOString(), monoUs: ms * 1000, kind, deviceId: "dev-1", messageId: "m1", detail, ...p };
}

describe("assembleStory", () => {
  it("orders steps by event id, whatever order they come in, with offsets from the first", () => {
    const s = assembleStory([
      ev(12, 40, "c2d.completed"),
      ev(10, 0, "c2d.enqueued", { ack: "full" }),
      ev(11, 12, "c2d.delivered", { via: "mqtt", attempt: 1 }),
    ]);
    expect(s.steps.map((x) => x.id)).toEqual([10, 11, 12]);
    expect(s.steps.map((x) => x.offsetMs)).toEqual([0, 12, 40]);
    expect(s.durationMs).toBe(40);
    expect(s.steps[0].label).toBe("enqueued (ack full)");
    expect(s.steps[1].label).toBe("delivered over mqtt, attempt 1");
  });

  it("tells a completed message with feedback: completed, then feedback Success", () => {
    const s = assembleStory([
      ev(1, 0, "c2d.enqueued", { ack: "positive" }),
      ev(2, 5, "c2d.delivered", { attempt: 1 }),
      ev(3, 20, "c2d.completed"),
      ev(4, 21, "feedback.produced", { statusCode: "Success", description: "Success" }),
    ]);
    expect(s.subject).toBe("message");
    expect(s.deviceId).toBe("dev-1");
    expect(s.outcome).toEqual({ label: "completed by the device; feedback: Success", tone: "ok" });
    expect(s.steps.map((x) => x.tone)).toEqual(["info", "wait", "ok", "ok"]);
  });

  it("tells a dead-lettered message as a failure, with its failure feedback", () => {
    const s = assembleStory([
      ev(1, 0, "c2d.enqueued", { ack: "negative" }),
      ev(2, 10, "c2d.delivered", { attempt: 1 }),
      ev(3, 20, "c2d.abandoned", { deliveryCount: 1, maxDeliveryCount: 2 }),
      ev(4, 30, "c2d.delivered", { attempt: 2 }),
      ev(5, 40, "c2d.abandoned", { deliveryCount: 2, maxDeliveryCount: 2 }),
      ev(6, 41, "c2d.dead_lettered", { reason: "DeliveryCountExceeded" }),
      ev(7, 42, "feedback.produced", { statusCode: "DeliveryCountExceeded" }),
    ]);
    expect(s.outcome.tone).toBe("bad");
    expect(s.outcome.label).toBe("dead-lettered: DeliveryCountExceeded; feedback: DeliveryCountExceeded");
    expect(s.steps[2]).toMatchObject({ kind: "c2d.abandoned", tone: "warn", label: "abandoned (delivery count 1 of 2)" });
    expect(s.steps.find((x) => x.kind === "feedback.produced")?.tone).toBe("bad");
  });

  it("tells a method call that timed out", () => {
    const s = assembleStory([
      ev(20, 0, "method.invoked", { methodName: "reboot" }, { messageId: null, requestId: "r1" }),
      ev(21, 2, "method.delivered", {}, { messageId: null, requestId: "r1" }),
      ev(22, 30_002, "method.timed_out", { code: 504101, responseTimeoutInSeconds: 30 }, { messageId: null, requestId: "r1" }),
    ]);
    expect(s.subject).toBe("call");
    expect(s.outcome).toEqual({ label: "timed out (504101) after 30 s", tone: "bad" });
    expect(s.durationMs).toBe(30_002);
  });

  it("keeps the timeout as the outcome when a late answer follows", () => {
    const s = assembleStory([
      ev(1, 0, "method.invoked", { methodName: "m" }),
      ev(2, 5000, "method.timed_out", { code: 504101, responseTimeoutInSeconds: 5 }),
      ev(3, 6000, "method.late_response", { status: 200 }),
    ]);
    expect(s.outcome.tone).toBe("bad");
    expect(s.steps[2]).toMatchObject({ label: "late answer 200 (ignored)", tone: "warn" });
  });

  it("tells a call answered with an error status as a warning, with its latency", () => {
    const s = assembleStory([ev(1, 0, "method.invoked", { methodName: "m" }), ev(2, 9, "method.responded", { status: 500, latencyMs: 8.44 })]);
    expect(s.outcome).toEqual({ label: "answered 500 in 8.4 ms", tone: "warn" });
  });

  it("says in progress while nothing decisive happened", () => {
    const s = assembleStory([ev(1, 0, "c2d.enqueued", { ack: "full" }), ev(2, 3, "c2d.delivered", { attempt: 1 })]);
    expect(s.outcome).toEqual({ label: "in progress", tone: "wait" });
  });

  it("says no events for an empty story", () => {
    const s = assembleStory([]);
    expect(s).toMatchObject({ subject: "unknown", deviceId: null, steps: [], durationMs: 0, outcome: { label: "no events", tone: "wait" } });
  });

  it("does not attach feedback that came before the decisive step", () => {
    // A redelivered message: an old feedback record, then a later completion.
    const s = assembleStory([ev(1, 0, "feedback.produced", { statusCode: "Expired" }), ev(2, 5, "c2d.completed")]);
    expect(s.outcome.label).toBe("completed by the device");
  });
});

describe("describe", () => {
  it("names unknown kinds by their kind", () => {
    expect(describeStep("sim.action", {})).toEqual({ label: "sim.action", tone: "info" });
  });
  it("says 'none' for an enqueue without ack", () => {
    expect(describeStep("c2d.enqueued", {}).label).toBe("enqueued (ack none)");
  });
});
