import { describe, expect, it } from "vitest";
import { humanSeconds, parseAliases, rangeHint, unitValue } from "../src/lib/logic/settingsForm";
import { RULES } from "./support/events";

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

describe("rangeHint", () => {
  const rule = (field: string) => RULES.settings.find((r) => r.field === field);
  it("says a setting's range and IoT Hub's value in its unit, from the hub's rules", () => {
    expect(rangeHint(rule("queueCap"))).toBe("1–10000; IoT Hub: 50");
    expect(rangeHint(rule("maxMessageBytes"))).toBe("1 KB–16 MB; IoT Hub: 64 KB");
    expect(rangeHint(rule("feedbackLockSecs"))).toBe("5 s–5 min; IoT Hub: 1 min");
    expect(rangeHint(rule("traceMaxEvents"), "0 means no limit")).toMatch(/^0–.*; 0 means no limit$/);
  });
  it("still shows the note before the rules are loaded", () => {
    expect(rangeHint(undefined, "0 keeps them forever")).toBe("0 keeps them forever");
  });
  it("writes units for people", () => {
    expect(unitValue(0, "seconds")).toBe("0 s");
    expect(unitValue(1500, "bytes")).toBe("1500");
  });
});
