import { describe, expect, it } from "vitest";
import { buildSeries, numericFields } from "../src/lib/logic/telemetry";

describe("numericFields", () => {
  it("flattens nested objects and arrays with dotted paths", () => {
    expect(numericFields({ a: { b: 1 }, c: [2, 3], d: 4.5 })).toEqual({ "a.b": 1, "c.0": 2, "c.1": 3, d: 4.5 });
  });

  it("turns booleans into 0 and 1 and drops strings, nulls and non-finite numbers", () => {
    expect(numericFields({ on: true, off: false, name: "x", none: null, inf: Infinity, nan: NaN })).toEqual({ on: 1, off: 0 });
  });

  it("names a bare number 'value'", () => {
    expect(numericFields(21.5)).toEqual({ value: 21.5 });
    expect(numericFields([1, 2])).toEqual({ "0": 1, "1": 2 });
  });

  it("gives nothing for text", () => {
    expect(numericFields("hello")).toEqual({});
  });
});

describe("buildSeries", () => {
  it("sorts points by time and gives x in seconds", () => {
    const s = buildSeries([
      { t: 3000, body: '{"temp": 3}' },
      { t: 1000, body: '{"temp": 1}' },
      { t: 2000, body: '{"temp": 2}' },
    ]);
    expect(s.x).toEqual([1, 2, 3]);
    expect(s.fields.get("temp")).toEqual([1, 2, 3]);
  });

  it("aligns fields and puts null where a body lacks one", () => {
    const s = buildSeries([
      { t: 1000, body: '{"temp": 20, "hum": 50}' },
      { t: 2000, body: '{"temp": 21}' },
      { t: 3000, body: '{"hum": 52, "door": {"open": true}}' },
    ]);
    expect(s.x).toEqual([1, 2, 3]);
    expect([...s.fields.keys()]).toEqual(["temp", "hum", "door.open"]);
    expect(s.fields.get("temp")).toEqual([20, 21, null]);
    expect(s.fields.get("hum")).toEqual([50, null, 52]);
    expect(s.fields.get("door.open")).toEqual([null, null, 1]);
  });

  it("skips bodies that are not JSON or have no numbers", () => {
    const s = buildSeries([
      { t: 1000, body: "boot: ready" },
      { t: 2000, body: '{"temp": 5}' },
      { t: 3000, body: '{"status": "ok"}' },
      { t: 4000, body: "" },
    ]);
    expect(s.x).toEqual([2]);
    expect(s.fields.get("temp")).toEqual([5]);
  });

  it("keeps at most maxFields fields, the first ones seen", () => {
    const s = buildSeries([{ t: 1000, body: '{"a":1,"b":2,"c":3}' }], 2);
    expect([...s.fields.keys()]).toEqual(["a", "b"]);
  });

  it("gives empty series for no points", () => {
    const s = buildSeries([]);
    expect(s.x).toEqual([]);
    expect(s.fields.size).toBe(0);
  });
});
