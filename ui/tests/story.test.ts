import { describe, expect, it } from "vitest";
import { assembleStory, describe as describeStep } from "../src/lib/logic/story";
import { one, storyOf, variant } from "./support/events";

/** A story's events, spread out in time by `gapMs` each (the engine's run has one instant). */
function spread(key: string, gapMs: number) {
  const t0 = Date.parse("2030-01-01T00:00:00.000Z");
  return storyOf(key).map((e, i) => ({ ...e, ts: new Date(t0 + i * gapMs).toISOString() }));
}

describe("assembleStory", () => {
  it("orders steps by event id, whatever order they come in, with offsets from the first", () => {
    const events = spread("m-complete", 10);
    const s = assembleStory([...events].reverse());
    expect(s.steps.map((x) => x.id)).toEqual(events.map((e) => e.id));
    expect(s.steps.map((x) => x.offsetMs)).toEqual([0, 10, 20, 30]);
    expect(s.durationMs).toBe(30);
    expect(s.steps[0].label).toBe("enqueued (ack full)");
    expect(s.steps[1].label).toBe("delivered over mqtt, attempt 1");
  });

  it("tells a completed message with feedback: completed, then feedback Success", () => {
    const s = assembleStory(storyOf("m-complete"));
    expect(s.subject).toBe("message");
    expect(s.deviceId).toBe("thermostat-1");
    expect(s.outcome).toEqual({ label: "completed by the device; feedback: Success", tone: "ok" });
    expect(s.steps.map((x) => x.tone)).toEqual(["info", "wait", "ok", "ok"]);
  });

  it("tells an abandoned then rejected message as a failure, with its failure feedback", () => {
    const s = assembleStory(storyOf("m-reject"));
    expect(s.outcome).toEqual({ label: "dead-lettered: Rejected; feedback: Rejected", tone: "bad" });
    expect(s.steps.find((x) => x.kind === "c2d.abandoned")).toMatchObject({ tone: "warn", label: "abandoned (delivery count 1 of 10)" });
    expect(s.steps.find((x) => x.kind === "feedback.produced")?.tone).toBe("bad");
  });

  it("tells a message whose lock expired and was then released", () => {
    const s = assembleStory(storyOf("m-expire-lock"));
    expect(s.steps.map((x) => x.label)).toContain("lock expired without an answer");
    expect(s.steps.map((x) => x.label)).toContain("lock released (the device went away)");
    expect(s.outcome).toEqual({ label: "in progress", tone: "wait" });
  });

  it("tells a message that expired in the queue", () => {
    const s = assembleStory(storyOf("m-ttl"));
    expect(s.outcome).toEqual({ label: "dead-lettered: Expired; feedback: Expired", tone: "bad" });
    expect(s.steps.map((x) => x.label)).toContain("expired before it was completed");
  });

  it("tells a method call that timed out", () => {
    const s = assembleStory(storyOf("2"));
    expect(s.subject).toBe("call");
    expect(s.outcome).toEqual({ label: "timed out (504101) after 5 s", tone: "bad" });
  });

  it("tells a call that found the device offline", () => {
    const s = assembleStory(storyOf("3"));
    expect(s.outcome.tone).toBe("bad");
    expect(s.outcome.label).toMatch(/^failed: 404103 /);
  });

  it("keeps the timeout as the outcome when a late answer follows", () => {
    const late = variant(one("method.late_response"), { requestId: "2", id: 1000 });
    const s = assembleStory([...storyOf("2"), late]);
    expect(s.outcome.tone).toBe("bad");
    expect(s.steps[s.steps.length - 1]).toMatchObject({ label: "late answer 200 (ignored)", tone: "warn" });
  });

  it("tells a call answered with an error status as a warning, with its latency", () => {
    const answered = variant(one("method.responded"), { detail: { status: 500, latencyMs: 8.44 } });
    const s = assembleStory([one("method.invoked"), answered]);
    expect(s.outcome).toEqual({ label: "answered 500 in 8.4 ms", tone: "warn" });
  });

  it("says in progress while nothing decisive happened", () => {
    const s = assembleStory(storyOf("m-complete").slice(0, 2));
    expect(s.outcome).toEqual({ label: "in progress", tone: "wait" });
  });

  it("says no events for an empty story", () => {
    const s = assembleStory([]);
    expect(s).toMatchObject({ subject: "unknown", deviceId: null, steps: [], durationMs: 0, outcome: { label: "no events", tone: "wait" } });
  });

  it("does not attach feedback that came before the decisive step", () => {
    // A redelivered message: an old feedback record, then a later completion.
    const old = variant(one("feedback.produced", (e) => e.detail.statusCode === "Expired"), { id: 1 });
    const done = variant(one("c2d.completed"), { id: 2 });
    expect(assembleStory([old, done]).outcome.label).toBe("completed by the device");
  });
});

describe("describe", () => {
  it("names a board's port events and a simulator's actions", () => {
    expect(describeStep(one("serial.port")).label).toBe("port opened");
    expect(describeStep(one("sim.action")).label).toBe("ignored reboot (thermostat)");
  });
  it("draws a refused connection as a failure and a detach as calm news", () => {
    expect(describeStep(one("device.auth_failed")).tone).toBe("bad");
    expect(describeStep(one("device.detached"))).toEqual({ label: "disconnected: the device disconnected", tone: "info" });
  });
});
