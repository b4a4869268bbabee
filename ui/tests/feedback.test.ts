import { describe, expect, it } from "vitest";
import type { FeedbackRecordDto } from "../src/lib/api/generated/FeedbackRecordDto";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import type { JsonValue } from "../src/lib/api/generated/serde_json/JsonValue";
import { countByOutcome, feedbackFromEvent, filterFeedback, mergeFeedback, outcomeTone } from "../src/lib/logic/feedback";

const produced = (id: number, p: Partial<TraceEventDto> = {}, detail: { [k: string]: JsonValue } = {}): TraceEventDto => ({
  id,
  ts: "2024-05-01T10:00:00.000+00:00",
  monoUs: 0,
  kind: "feedback.produced",
  deviceId: "dev-1",
  messageId: `m-${id}`,
  detail: { statusCode: "Success", description: "Success", ack: "full", deviceGenerationId: "g1", sequenceNumber: 3, ...detail },
  ...p,
});

const rec = (traceId: number, statusCode = "Success", deviceId = "dev-1"): FeedbackRecordDto => ({
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
    expect(feedbackFromEvent(produced(42, {}, { statusCode: "Rejected", description: "Message rejected" }))).toEqual({
      originalMessageId: "m-42",
      deviceId: "dev-1",
      deviceGenerationId: "g1",
      statusCode: "Rejected",
      description: "Message rejected",
      enqueuedTimeUtc: "2024-05-01T10:00:00.000+00:00",
      traceId: 42,
    });
  });
  it("ignores other kinds and incomplete events", () => {
    expect(feedbackFromEvent(produced(1, { kind: "c2d.completed" }))).toBeNull();
    expect(feedbackFromEvent(produced(1, { messageId: null }))).toBeNull();
    expect(feedbackFromEvent(produced(1, { deviceId: undefined }))).toBeNull();
    expect(feedbackFromEvent(produced(1, {}, { statusCode: null }))).toBeNull();
    expect(feedbackFromEvent(produced(1, { detail: null }))).toBeNull();
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
  const all = [rec(1), rec(2, "Expired"), rec(3, "Success", "dev-2"), rec(4, "Purged"), rec(5, "SomethingNew")];
  it("counts every outcome, zero included, and unknown ones too", () => {
    expect(countByOutcome(all)).toEqual({ Success: 2, Expired: 1, DeliveryCountExceeded: 0, Rejected: 0, Purged: 1, SomethingNew: 1 });
  });
  it("filters by device and outcome", () => {
    expect(filterFeedback(all, { deviceId: "dev-1", outcome: "" }).map((r) => r.traceId)).toEqual([1, 2, 4, 5]);
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
