import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { BAD_LINES_KEPT, CSV_COLUMNS, csvField, parseJsonl, toCsv, toEvent, toJsonl } from "../src/lib/logic/traceFile";
import { EVENTS, one, variant } from "./support/events";

// Lines exactly as the engine writes them (the contract run's export).
const HUB_LINES = readFileSync(new URL("./fixtures/trace-events.jsonl", import.meta.url), "utf8").split("\n").slice(0, 3);

describe("parseJsonl", () => {
  it("reads the hub's export", () => {
    const p = parseJsonl(HUB_LINES.join("\n") + "\n");
    expect(p.badCount).toBe(0);
    expect(p.events).toEqual(EVENTS.slice(0, 3));
    expect(p.events[0].deviceId).toBeUndefined();
    expect(p.events[1].deviceId).toBe("thermostat-1");
  });

  it("counts bad lines with their line numbers, and keeps the good ones", () => {
    const text = [HUB_LINES[0], "not json", "", "[1,2]", '{"id":"x","ts":"2024-05-01T10:00:00Z","kind":"a.b","detail":{}}', HUB_LINES[1], '{"id":3,"ts":"yesterday","kind":"a.b"}', '{"id":4,"ts":"2024-05-01T10:00:00Z","kind":""}', '{"id":5,"ts":"2024-05-01T10:00:00Z","kind":"a.b","deviceId":5}'].join("\r\n");
    const p = parseJsonl(text);
    expect(p.events.map((e) => e.id)).toEqual([1, 2]);
    expect(p.badCount).toBe(6);
    expect(p.bad).toEqual([
      { line: 2, reason: "not valid JSON" },
      { line: 4, reason: "not a JSON object" },
      { line: 5, reason: "no integer 'id'" },
      { line: 7, reason: "no valid 'ts'" },
      { line: 8, reason: "no 'kind'" },
    ]);
    expect(p.bad.length).toBe(BAD_LINES_KEPT);
  });

  it("accepts epoch-millisecond times (the hub reads them too); a missing detail makes an event shown raw", () => {
    const e = toEvent({ id: 1, ts: 1714557600000, kind: "sim.action" });
    expect(e).toEqual({ id: 1, ts: "2024-05-01T10:00:00.000Z", monoUs: 0, kind: "unknown", detail: { kind: "sim.action", raw: null } });
  });

  it("orders by id and reads a repeated event once", () => {
    const p = parseJsonl([HUB_LINES[2], HUB_LINES[0], HUB_LINES[0], HUB_LINES[1]].join("\n"));
    expect(p.events.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(p.duplicates).toBe(1);
  });

  it("skips a byte-order mark and blank lines", () => {
    const p = parseJsonl(`\uFEFF${HUB_LINES[0]}\n\n   \n`);
    expect(p.events.length).toBe(1);
    expect(p.badCount).toBe(0);
  });

  it("reads an empty file as no events and no errors", () => {
    expect(parseJsonl("")).toEqual({ events: [], badCount: 0, bad: [], duplicates: 0 });
  });
});

describe("toJsonl", () => {
  it("writes what parseJsonl reads back", () => {
    const events = parseJsonl(HUB_LINES.join("\n")).events;
    const text = toJsonl(events);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.trim().split("\n").length).toBe(3);
    expect(parseJsonl(text).events).toEqual(events);
  });
  it("writes nothing for no events", () => {
    expect(toJsonl([])).toBe("");
  });
});

describe("toCsv", () => {
  it("uses the hub's columns (the JSON Lines names) and quotes only when needed", () => {
    const e = variant(one("serial.sent"), { id: 8, ts: "2024-05-01T10:00:00.012Z", monoUs: 13200, deviceId: "dev,1", detail: { text: 'say "hi"' } });
    const lines = toCsv([e]).split("\n");
    expect(lines[0]).toBe(CSV_COLUMNS.join(","));
    expect(lines[0]).toBe("id,ts,monoUs,kind,deviceId,messageId,lockToken,requestId,detail");
    expect(lines[1]).toBe('8,2024-05-01T10:00:00.012Z,13200,serial.sent,"dev,1",,,,"{""frame"":true,""hex"":null,""sentAt"":""2030-01-01T00:02:11.000Z"",""text"":""say \\""hi\\""""}"');
    expect(lines[2]).toBe("");
  });
  it("quotes fields with line breaks", () => {
    expect(csvField("a\nb")).toBe('"a\nb"');
    expect(csvField("plain")).toBe("plain");
  });
});
