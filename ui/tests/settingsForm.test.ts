import { describe, expect, it } from "vitest";
import { fieldOfError, humanSeconds, parseAliases } from "../src/lib/logic/settingsForm";

describe("parseAliases", () => {
  it("splits on commas, semicolons and whitespace, dropping empties and repeats", () => {
    expect(parseAliases("a.local, b.lan\nc;;a.local  ")).toEqual(["a.local", "b.lan", "c"]);
    expect(parseAliases("   ")).toEqual([]);
  });
});

describe("humanSeconds", () => {
  it("shows the two largest units", () => {
    expect(humanSeconds(0)).toBe("0 s");
    expect(humanSeconds(45)).toBe("45 s");
    expect(humanSeconds(90)).toBe("1 min 30 s");
    expect(humanSeconds(3600)).toBe("1 h");
    expect(humanSeconds(3725)).toBe("1 h 2 min");
    expect(humanSeconds(604800)).toBe("7 d");
    expect(humanSeconds(172800 + 3600 + 61)).toBe("2 d 1 h");
  });

  it("gives nothing for invalid input", () => {
    expect(humanSeconds(-1)).toBe("");
    expect(humanSeconds(NaN)).toBe("");
  });
});

describe("fieldOfError", () => {
  const keys = ["queueCap", "maxTtlSecs"];
  it("finds the field a hub message starts with", () => {
    expect(fieldOfError("queueCap is 0; it must be between 1 and 10000", keys)).toBe("queueCap");
  });
  it("is null for other messages", () => {
    expect(fieldOfError("'a b' is not a valid host name", keys)).toBeNull();
    expect(fieldOfError("", keys)).toBeNull();
  });
});
