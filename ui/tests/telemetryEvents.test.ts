import { describe, expect, it } from "vitest";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import { bodyPreview, mergeRows, telemetryPoints, telemetryRow, type TelemetryRow } from "../src/lib/logic/telemetryEvents";

function ev(id: number, detail: Record<string, unknown>, kind = "telemetry.received"): TraceEventDto {
  return { id, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(), monoUs: id, kind, deviceId: "t1", detail: detail as TraceEventDto["detail"] };
}

describe("bodyPreview", () => {
  it("reads the hub's text preview", () => {
    expect(bodyPreview({ text: '{"a":1}', size: 7, truncated: false })).toEqual({ text: '{"a":1}', base64: null, size: 7, truncated: false });
  });

  it("reads a binary preview as base64", () => {
    expect(bodyPreview({ base64: "AAE=", size: 2, truncated: false })).toEqual({ text: null, base64: "AAE=", size: 2, truncated: false });
  });

  it("accepts a plain string and counts its UTF-8 bytes", () => {
    expect(bodyPreview("é")).toEqual({ text: "é", base64: null, size: 2, truncated: false });
  });

  it("gives an empty preview for anything else", () => {
    expect(bodyPreview(null)).toEqual({ text: null, base64: null, size: 0, truncated: false });
  });
});

describe("telemetryRow", () => {
  it("takes the body, content type, properties and transport", () => {
    const r = telemetryRow(ev(5, { body: { text: "{}", size: 2, truncated: false }, contentType: "application/json", properties: { unit: "C", n: 3 }, via: "mqtt" }));
    expect(r).toMatchObject({ id: 5, contentType: "application/json", properties: { unit: "C", n: "3" }, via: "mqtt" });
    expect(r?.body.text).toBe("{}");
  });

  it("is null for other kinds", () => {
    expect(telemetryRow(ev(1, {}, "c2d.enqueued"))).toBeNull();
  });
});

describe("telemetryPoints", () => {
  it("keeps whole text bodies with their time in ms", () => {
    const rows = [
      telemetryRow(ev(1, { body: { text: '{"t":1}', size: 7, truncated: false } })),
      telemetryRow(ev(2, { body: { base64: "AAE=", size: 2, truncated: false } })),
      telemetryRow(ev(3, { body: { text: '{"t":', size: 9000, truncated: true } })),
    ].filter((r): r is TelemetryRow => r !== null);
    expect(telemetryPoints(rows)).toEqual([{ t: Date.UTC(2026, 0, 1, 0, 0, 1), body: '{"t":1}' }]);
  });
});

describe("mergeRows", () => {
  const row = (id: number) => telemetryRow(ev(id, { body: { text: String(id), size: 1, truncated: false } })) as TelemetryRow;

  it("adds new rows newest first and drops ones already there", () => {
    const merged = mergeRows([row(2), row(1)], [row(3), row(2)]);
    expect(merged.map((r) => r.id)).toEqual([3, 2, 1]);
  });

  it("returns the same list when nothing is new", () => {
    const cur = [row(1)];
    expect(mergeRows(cur, [row(1)])).toBe(cur);
  });

  it("keeps at most max rows, dropping the oldest", () => {
    expect(mergeRows([row(2), row(1)], [row(3)], 2).map((r) => r.id)).toEqual([3, 2]);
  });
});
