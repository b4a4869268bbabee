// The cross-language contract: every kind of event the engine writes (the
// fixture comes from the real engine, see support/events.ts) is read by
// the UI's own parser and described by its own code, none by a fallback.

import { describe, expect, it } from "vitest";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import { ALL_KINDS, eventKind } from "../src/lib/logic/eventKinds";
import { describe as describeStep } from "../src/lib/logic/story";
import { parseJsonl, toJsonl } from "../src/lib/logic/traceFile";
import { matches, summary, EMPTY_FILTER } from "../src/lib/logic/traceFilter";
import { EVENTS } from "./support/events";

describe("the trace contract with the engine", () => {
  it("holds every kind the UI knows, and only those", () => {
    const kinds = new Set(EVENTS.map((e) => e.kind));
    expect([...kinds].sort()).toEqual([...ALL_KINDS].sort());
  });

  it("describes and summarises every event in its own words", () => {
    for (const e of EVENTS) {
      const d = describeStep(e);
      expect(d.label, `${e.kind} #${e.id}`).not.toBe("");
      expect(d.label, `${e.kind} #${e.id} falls back to its kind`).not.toBe(e.kind);
      expect(d.label).not.toMatch(/undefined|null|\[object Object\]|NaN/);
      const s = summary(e);
      expect(s, `${e.kind} #${e.id}`).not.toBe("");
      expect(s).not.toMatch(/undefined|\[object Object\]|NaN/);
    }
  });

  it("round-trips every event through the UI's JSON Lines writer and reader", () => {
    expect(parseJsonl(toJsonl(EVENTS)).events).toEqual(EVENTS);
  });

  it("passes every event through the empty filter", () => {
    expect(EVENTS.every((e) => matches(e, EMPTY_FILTER))).toBe(true);
  });
});

describe("events this Hublet cannot read", () => {
  const unknown: TraceEventDto = { id: 900, ts: "2030-01-01T00:00:00.000Z", monoUs: 0, kind: "unknown", detail: { kind: "twin.teleported", raw: { to: "mars" } } };

  it("are shown raw under their own kind, never dropped", () => {
    expect(eventKind(unknown)).toBe("twin.teleported");
    expect(describeStep(unknown).label).toContain("twin.teleported");
    expect(summary(unknown)).toBe('twin.teleported: {"to":"mars"}');
  });

  it("come from a file line with a kind the UI does not know, or a detail that is not an object", () => {
    const text = [
      JSON.stringify({ id: 1, ts: "2030-01-01T00:00:00.000Z", kind: "twin.teleported", detail: { to: "mars" } }),
      JSON.stringify({ id: 2, ts: "2030-01-01T00:00:00.000Z", kind: "c2d.completed", detail: "old shape" }),
    ].join("\n");
    const { events, badCount } = parseJsonl(text);
    expect(badCount).toBe(0);
    expect(events.map((e) => [e.kind, eventKind(e)])).toEqual([
      ["unknown", "twin.teleported"],
      ["unknown", "c2d.completed"],
    ]);
    expect(summary(events[1])).toBe('c2d.completed: "old shape"');
  });
});
