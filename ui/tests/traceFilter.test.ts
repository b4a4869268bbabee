import { describe, expect, it } from "vitest";
import { previewLine } from "../src/lib/logic/story";
import { ALL_KINDS } from "../src/lib/logic/eventKinds";
import { EMPTY_FILTER, FAMILIES, foldCase, kindMatches, matches, summary, type TraceFilter, toParams } from "../src/lib/logic/traceFilter";
import { one, variant } from "./support/events";

/** A real event (a delivery of "m-complete" on thermostat-1) with fields changed. */
const ev = (p: Parameters<typeof variant<ReturnType<typeof delivered>>>[1] = {}) => variant(delivered(), p);
const delivered = () => one("c2d.delivered", (e) => e.messageId === "m-complete");
const f = (p: Partial<TraceFilter>): TraceFilter => ({ ...EMPTY_FILTER, kinds: [], ...p });

describe("kindMatches", () => {
  it("matches everything when nothing is wanted", () => {
    expect(kindMatches("serial.line", [])).toBe(true);
  });
  it("reads a bare name as a family", () => {
    expect(kindMatches("c2d.enqueued", ["c2d"])).toBe(true);
    expect(kindMatches("feedback.produced", ["c2d"])).toBe(false);
    // A family is a prefix up to the dot, not any prefix.
    expect(kindMatches("c2dx.enqueued", ["c2d"])).toBe(false);
  });
  it("reads a dotted name as one exact kind", () => {
    expect(kindMatches("method.timed_out", ["method.timed_out"])).toBe(true);
    expect(kindMatches("method.responded", ["method.timed_out"])).toBe(false);
    expect(kindMatches("method.timed_out_again", ["method.timed_out"])).toBe(false);
  });
  it("reads `x.*` and `x*` as families, like the hub", () => {
    expect(kindMatches("c2d.completed", ["c2d.*"])).toBe(true);
    expect(kindMatches("c2d.completed", ["c2d*"])).toBe(true);
    expect(kindMatches("method.invoked", ["c2d.*"])).toBe(false);
  });
  it("matches when any wanted entry matches, ignoring blanks", () => {
    expect(kindMatches("serial.line", ["c2d", " serial "])).toBe(true);
    expect(kindMatches("serial.line", ["", "  "])).toBe(true);
  });
  it("covers every event family the hub has", () => {
    const offered = new Set(FAMILIES.map((x) => x.family));
    const families = new Set(ALL_KINDS.map((k) => k.split(".")[0]));
    expect([...families].filter((f) => !offered.has(f))).toEqual([]);
    expect(offered.size).toBe(families.size);
  });
});

describe("matches", () => {
  it("passes everything with the empty filter", () => {
    expect(matches(ev(), EMPTY_FILTER)).toBe(true);
  });
  it("filters by device", () => {
    expect(matches(ev({ deviceId: "dev-1" }), f({ deviceId: "dev-1" }))).toBe(true);
    expect(matches(ev({ deviceId: "dev-10" }), f({ deviceId: "dev-1" }))).toBe(false);
    expect(matches(ev({ deviceId: undefined }), f({ deviceId: "dev-1" }))).toBe(false);
  });
  it("takes in a device's modules, as the hub does", () => {
    expect(matches(ev({ deviceId: "dev-1/probe" }), f({ deviceId: "dev-1" }))).toBe(true);
    expect(matches(ev({ deviceId: "dev-10/probe" }), f({ deviceId: "dev-1" }))).toBe(false);
    expect(matches(ev({ deviceId: "dev-1/probe" }), f({ deviceId: "dev-1/probe" }))).toBe(true);
    expect(matches(ev({ deviceId: "dev-1" }), f({ deviceId: "dev-1/probe" }))).toBe(false);
  });
  it("filters by kind family", () => {
    expect(matches(one("method.invoked"), f({ kinds: ["method"] }))).toBe(true);
    expect(matches(one("c2d.enqueued"), f({ kinds: ["method", "feedback"] }))).toBe(false);
  });
  it("keeps since inclusive and until exclusive, as the hub does", () => {
    const at = ev({ ts: "2024-05-01T10:00:00.000Z" });
    expect(matches(at, f({ since: "2024-05-01T10:00:00.000Z" }))).toBe(true);
    expect(matches(at, f({ since: "2024-05-01T10:00:00.001Z" }))).toBe(false);
    expect(matches(at, f({ until: "2024-05-01T10:00:00.001Z" }))).toBe(true);
    expect(matches(at, f({ until: "2024-05-01T10:00:00.000Z" }))).toBe(false);
  });
  it("reads datetime-local values (no zone) as local time", () => {
    const local = new Date(2024, 4, 1, 12, 30, 0); // 12:30 local
    const e = ev({ ts: local.toISOString() });
    expect(matches(e, f({ since: "2024-05-01T12:30" }))).toBe(true);
    expect(matches(e, f({ since: "2024-05-01T12:31" }))).toBe(false);
  });
  it("searches text in the correlation keys and the detail, in any case", () => {
    const e = variant(one("feedback.produced", (x) => x.messageId === "m-complete"), { messageId: "msg-42", lockToken: "lock-7" });
    expect(matches(e, f({ text: "msg-4" }))).toBe(true);
    expect(matches(e, f({ text: "lock-7" }))).toBe(true);
    expect(matches(e, f({ text: "mostat" }))).toBe(true);
    expect(matches(e, f({ text: "Success" }))).toBe(true);
    expect(matches(e, f({ text: '"statusCode":"Success"' }))).toBe(true);
    // Like the hub's: any case, and not the kind.
    expect(matches(e, f({ text: "success" }))).toBe(true);
    expect(matches(e, f({ text: "MSG-42" }))).toBe(true);
    expect(matches(e, f({ text: "produced" }))).toBe(false);
  });
  it("folds ASCII letters only, as the hub's SQLite does", () => {
    expect(foldCase("Grüße ÄB")).toBe("grüße Äb");
    const e = ev({ detail: { via: "Straße Ä" } });
    expect(matches(e, f({ text: "STRAßE" }))).toBe(true);
    expect(matches(e, f({ text: "ä" }))).toBe(false);
  });
  it("requires every filter to pass", () => {
    const e = ev({ deviceId: "a", detail: { via: "needle" } });
    expect(matches(e, f({ deviceId: "a", kinds: ["c2d"], text: "needle" }))).toBe(true);
    expect(matches(e, f({ deviceId: "a", kinds: ["c2d"], text: "haystack" }))).toBe(false);
    expect(matches(e, f({ deviceId: "b", kinds: ["c2d"], text: "needle" }))).toBe(false);
  });
});

describe("toParams", () => {
  it("leaves out empty fields", () => {
    expect(toParams(EMPTY_FILTER)).toEqual({ deviceId: undefined, kind: undefined, text: undefined, since: undefined, until: undefined });
  });
  it("joins kinds and turns local times into UTC RFC 3339", () => {
    const p = toParams(f({ deviceId: "d", kinds: ["c2d", "method.timed_out"], text: "x", since: "2024-05-01T12:30", until: "2024-05-01T13:00:05" }));
    expect(p.deviceId).toBe("d");
    expect(p.kind).toBe("c2d,method.timed_out");
    expect(p.text).toBe("x");
    expect(p.since).toBe(new Date(2024, 4, 1, 12, 30).toISOString());
    expect(p.until).toBe(new Date(2024, 4, 1, 13, 0, 5).toISOString());
    expect(p.since).toMatch(/Z$/);
  });
});

describe("summary", () => {
  it("shows a serial line's text without its line ending, bad bytes as the hub escaped them", () => {
    expect(summary(one("serial.line"))).toBe("boot \\xff ok");
    expect(summary(variant(one("serial.line"), { detail: { text: "boot ok\r\n" } }))).toBe("boot ok");
  });
  it("shows hex when a line from an older hub has no text", () => {
    expect(summary(variant(one("serial.sent"), { detail: { text: null, hex: "01 02" } }))).toBe("[hex] 01 02");
  });
  it("shows telemetry's body, as the hub traces it", () => {
    expect(summary(one("telemetry.received"))).toBe('telemetry over mqtt {"temperature": 21.5}');
  });
  it("adds a message's body or a call's payload after what happened", () => {
    expect(summary(one("c2d.enqueued", (e) => e.messageId === "m-complete"))).toBe("enqueued (ack full) on");
    const resp = one("method.responded");
    expect(summary(resp)).toBe('answered 200 in 0.0 ms {"setpoint": 21}');
  });
  it("says how a device connected and why it went away", () => {
    expect(summary(one("device.attached"))).toBe("connected over mqtt from 127.0.0.1:50001");
    expect(summary(one("device.detached"))).toBe("disconnected: the device disconnected");
  });
});

describe("previewLine", () => {
  it("reads the hub's body previews", () => {
    expect(previewLine({ text: "line 1\r\nline 2", size: 14, truncated: false })).toBe("line 1 line 2");
    expect(previewLine({ text: "abc", size: 4000, truncated: true })).toBe("abc…");
    expect(previewLine({ base64: "AAEC", size: 3, truncated: false })).toBe("[base64] AAEC");
  });
  it("shows nothing for no preview", () => {
    expect(previewLine(null)).toBe("");
    expect(previewLine(undefined)).toBe("");
  });
});
