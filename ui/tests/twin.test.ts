import { describe, expect, it } from "vitest";
import { lastUpdated, mergePatch, ownKeys, parseObject, type TwinSection } from "../src/lib/logic/twin";

describe("twin helpers", () => {
  it("computes the merge patch IoT Hub applies", () => {
    expect(mergePatch({ a: 1, b: { x: 1, y: 2 }, gone: true }, { a: 2, b: { x: 1 }, c: [1] })).toEqual({
      gone: null,
      a: 2,
      b: { y: null },
      c: [1],
    });
    expect(mergePatch({ a: { x: 1 } }, { a: { x: 1 } })).toEqual({});
    expect(mergePatch({ a: { x: 1 } }, { a: 5 })).toEqual({ a: 5 });
  });

  it("keeps a section's own keys and reads when one changed", () => {
    const s: TwinSection = {
      setpoint: 22,
      $version: 3,
      $metadata: { $lastUpdated: "2030-01-01T00:00:00Z", setpoint: { $lastUpdated: "2030-01-01T00:00:05Z" } },
    };
    expect(ownKeys(s)).toEqual({ setpoint: 22 });
    expect(lastUpdated(s, "setpoint")).toBe("2030-01-01T00:00:05Z");
    expect(lastUpdated(s, "other")).toBeNull();
  });

  it("accepts only JSON objects in the editor", () => {
    expect(parseObject('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseObject("[1]").ok).toBe(false);
    expect(parseObject("{").ok).toBe(false);
  });
});
