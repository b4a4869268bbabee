import { describe, expect, it } from "vitest";
import { parseMethodPayload, statusTone, timeoutError } from "../src/lib/logic/methodForm";
import { RULES } from "./support/events";

describe("parseMethodPayload", () => {
  it("sends null for an empty editor", () => {
    expect(parseMethodPayload("  \n")).toEqual({ ok: true, value: null });
  });

  it("parses any JSON value", () => {
    expect(parseMethodPayload('{"setpoint": 22}')).toEqual({ ok: true, value: { setpoint: 22 } });
    expect(parseMethodPayload("[1,2]")).toEqual({ ok: true, value: [1, 2] });
    expect(parseMethodPayload("null")).toEqual({ ok: true, value: null });
  });

  it("says why invalid JSON is invalid", () => {
    const r = parseMethodPayload("{setpoint: 22}");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^not valid JSON: ./);
  });
});

describe("timeoutError", () => {
  it("checks only the number until the hub's rules are known", () => {
    expect(timeoutError("response", 4, null)).toBeNull();
    expect(timeoutError("response", 1.5, null)).toBe("Response timeout must be a whole number of seconds");
  });
  it("accepts IoT Hub's ranges", () => {
    expect(timeoutError("connect", 0, RULES)).toBeNull();
    expect(timeoutError("connect", 300, RULES)).toBeNull();
    expect(timeoutError("response", 5, RULES)).toBeNull();
    expect(timeoutError("response", "30", RULES)).toBeNull();
  });

  it("refuses values outside them", () => {
    expect(timeoutError("connect", -1, RULES)).toBe("Connect timeout must be 0 to 300 s");
    expect(timeoutError("response", 4, RULES)).toBe("Response timeout must be 5 to 300 s");
    expect(timeoutError("response", 301, RULES)).toBe("Response timeout must be 5 to 300 s");
  });

  it("refuses empty and fractional values", () => {
    expect(timeoutError("response", "", RULES)).toBe("Response timeout must be a whole number of seconds");
    expect(timeoutError("connect", 1.5, RULES)).toBe("Connect timeout must be a whole number of seconds");
    expect(timeoutError("connect", null, RULES)).toBe("Connect timeout must be a whole number of seconds");
  });
});

describe("statusTone", () => {
  it("colours 2xx ok, 4xx warn, others bad", () => {
    expect(statusTone(200)).toBe("ok");
    expect(statusTone(204)).toBe("ok");
    expect(statusTone(404)).toBe("warn");
    expect(statusTone(500)).toBe("bad");
    expect(statusTone(-1)).toBe("bad");
  });
});
