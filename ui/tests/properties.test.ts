import { describe, expect, it } from "vitest";
import { propertiesToMap, propertyError, type PropertyRow } from "../src/lib/logic/properties";

const row = (name: string, value: string): PropertyRow => ({ name, value });

describe("propertyError", () => {
  it("accepts letters, digits and the allowed specials", () => {
    expect(propertyError(row("color", "red"))).toBeNull();
    expect(propertyError(row("x-req.id_1", "a!#$%&'*+-.^_`|~9"))).toBeNull();
  });

  it("ignores a completely empty row", () => {
    expect(propertyError(row("", ""))).toBeNull();
    expect(propertyError(row("  ", ""))).toBeNull();
  });

  it("accepts an empty value", () => {
    expect(propertyError(row("flag", ""))).toBeNull();
  });

  it("asks for a name when only a value is given", () => {
    expect(propertyError(row("", "red"))).toBe("the property needs a name");
  });

  it("leaves IoT Hub's character and prefix rules to the hub, which names the property at fault", () => {
    expect(propertyError(row("iothub-ack", "full"))).toBeNull();
    expect(propertyError(row("my prop", "°C"))).toBeNull();
  });

  it("flags duplicate names (after trimming) among all rows", () => {
    const rows = [row("color", "red"), row(" color ", "blue"), row("size", "1")];
    expect(propertyError(rows[0], rows)).toBe("'color' is given twice");
    expect(propertyError(rows[1], rows)).toBe("'color' is given twice");
    expect(propertyError(rows[2], rows)).toBeNull();
  });

  it("treats names differing in case as different", () => {
    const rows = [row("Color", "red"), row("color", "blue")];
    expect(propertyError(rows[0], rows)).toBeNull();
  });
});

describe("propertiesToMap", () => {
  it("builds the map from trimmed names and skips empty rows", () => {
    expect(propertiesToMap([row(" color", "red"), row("", ""), row("n", "1")])).toEqual({
      ok: true,
      map: { color: "red", n: "1" },
    });
  });

  it("gives an empty map for no rows", () => {
    expect(propertiesToMap([])).toEqual({ ok: true, map: {} });
  });

  it("returns the first error", () => {
    expect(propertiesToMap([row("ok", "1"), row("", "2"), row("a", "3"), row("a", "4")])).toEqual({ ok: false, error: "the property needs a name" });
    expect(propertiesToMap([row("a", "1"), row("a", "2")])).toEqual({ ok: false, error: "'a' is given twice" });
  });
});
