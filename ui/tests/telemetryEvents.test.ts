import { describe, expect, it } from "vitest";
import type { BodyPreview } from "../src/lib/api/generated/BodyPreview";
import { bodyPreview, mergeRows, telemetryPoints, telemetryRow, type TelemetryRow } from "../src/lib/logic/telemetryEvents";
import { one, variant } from "./support/events";

/** The contract run's telemetry event, with id, time and body changed. */
function ev(id: number, body: BodyPreview) {
  return variant(one("telemetry.received"), { id, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(), detail: { body } });
}

describe("bodyPreview", () => {
  it("reads the hub's text preview", () => {
    expect(bodyPreview({ text: '{"a":1}', size: 7, truncated: false })).toEqual({ text: '{"a":1}', base64: null, size: 7, truncated: false });
  });

  it("reads a binary preview as base64", () => {
    expect(bodyPreview({ base64: "AAE=", size: 2, truncated: false })).toEqual({ text: null, base64: "AAE=", size: 2, truncated: false });
  });

});

describe("telemetryRow", () => {
  it("takes the body, content type, properties (a bare key as empty) and transport", () => {
    const e = one("telemetry.received");
    const r = telemetryRow(e);
    expect(r).toMatchObject({ id: e.id, contentType: "application/json", properties: { alert: "high", bare: "" }, via: "mqtt" });
    expect(r?.body.text).toBe('{"temperature": 21.5}');
  });

  it("is null for other kinds", () => {
    expect(telemetryRow(one("c2d.enqueued"))).toBeNull();
  });
});

describe("telemetryPoints", () => {
  it("keeps whole text bodies with their time in ms", () => {
    const rows = [
      telemetryRow(ev(1, { text: '{"t":1}', size: 7, truncated: false })),
      telemetryRow(ev(2, { base64: "AAE=", size: 2, truncated: false })),
      telemetryRow(ev(3, { text: '{"t":', size: 9000, truncated: true })),
    ].filter((r): r is TelemetryRow => r !== null);
    expect(telemetryPoints(rows)).toEqual([{ t: Date.UTC(2026, 0, 1, 0, 0, 1), body: '{"t":1}' }]);
  });
});

describe("mergeRows", () => {
  const row = (id: number) => telemetryRow(ev(id, { text: String(id), size: 1, truncated: false })) as TelemetryRow;

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
