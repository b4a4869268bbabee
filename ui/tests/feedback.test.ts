import { describe, expect, it } from "vitest";
import type { FeedbackRecordDto } from "../src/lib/api/generated/FeedbackRecordDto";
import type { FeedbackStatus } from "../src/lib/api/generated/FeedbackStatus";
import { countByOutcome, feedbackFromEvent, filterFeedback, mergeFeedback, outcomeTone } from "../src/lib/logic/feedback";
import { one, variant } from "./support/events";

const rec = (traceId: number, statusCode: FeedbackStatus = "Success", deviceId = "dev-1"): FeedbackRecordDto => ({
  originalMessageId: `m-${traceId}`,
  deviceId,
  deviceGenerationId: "g1",
  statusCode,
  description: statusCode,
  enqueuedTimeUtc: new Date(1_700_000_000_000 + traceId).toISOString(),
  traceId,
});

describe("feedbackFromEvent", () => {
  it("builds the record the hub would list", () => {
    const e = one("feedback.produced", (x) => x.messageId === "m-reject");
    expect(feedbackFromEvent(e)).toEqual({
      originalMessageId: "m-reject",
      deviceId: "thermostat-1",
      deviceGenerationId: e.detail.deviceGenerationId,
      statusCode: "Rejected",
      description: "Message rejected",
      enqueuedTimeUtc: e.ts,
      traceId: e.id,
    });
  });
  it("ignores other kinds and events that name no message or device", () => {
    expect(feedbackFromEvent(one("c2d.completed"))).toBeNull();
    const e = one("feedback.produced");
    expect(feedbackFromEvent(variant(e, { messageId: undefined }))).toBeNull();
    expect(feedbackFromEvent(variant(e, { deviceId: undefined }))).toBeNull();
  });
});

describe("mergeFeedback", () => {
  it("puts new records first, once each, and keeps at most max", () => {
    const merged = mergeFeedback([rec(3), rec(2), rec(1)], [rec(5), rec(4), rec(3)], 4);
    expect(merged.map((r) => r.traceId)).toEqual([5, 4, 3, 2]);
  });
  it("orders by trace id even when batches come in out of order", () => {
    expect(mergeFeedback([rec(4)], [rec(2), rec(6)]).map((r) => r.traceId)).toEqual([6, 4, 2]);
  });
  it("orders records without a trace id by time", () => {
    const a = { ...rec(1), traceId: null, enqueuedTimeUtc: "2024-05-01T10:00:00Z" };
    const b = { ...rec(2), traceId: null, enqueuedTimeUtc: "2024-05-01T11:00:00Z" };
    expect(mergeFeedback([a], [b]).map((r) => r.originalMessageId)).toEqual(["m-2", "m-1"]);
    expect(mergeFeedback([a, b], [a]).length).toBe(2);
  });
});

describe("countByOutcome / filterFeedback / outcomeTone", () => {
  const all = [rec(1), rec(2, "Expired"), rec(3, "Success", "dev-2"), rec(4, "Purged")];
  it("counts every outcome, zero included", () => {
    expect(countByOutcome(all)).toEqual({ Success: 2, Expired: 1, DeliveryCountExceeded: 0, Rejected: 0, Purged: 1 });
  });
  it("filters by device and outcome", () => {
    expect(filterFeedback(all, { deviceId: "dev-1", outcome: "" }).map((r) => r.traceId)).toEqual([1, 2, 4]);
    expect(filterFeedback(all, { deviceId: "", outcome: "Success" }).map((r) => r.traceId)).toEqual([1, 3]);
    expect(filterFeedback(all, { deviceId: "dev-2", outcome: "Expired" })).toEqual([]);
  });
  it("tones: success ok, expiry warn, rejection bad", () => {
    expect(outcomeTone("Success")).toBe("ok");
    expect(outcomeTone("DeliveryCountExceeded")).toBe("warn");
    expect(outcomeTone("Rejected")).toBe("bad");
    expect(outcomeTone("Purged")).toBe("bad");
  });
});
