import { describe, expect, it } from "vitest";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import { appendEntries, displayText, entryHex, fromConsoleLine, fromTraceEvent, serialSendRequest, usbId } from "../src/lib/logic/serialConsole";

function ev(id: number, kind: string, detail: Record<string, unknown>): TraceEventDto {
  return { id, ts: "2026-01-01T00:00:00.500Z", monoUs: id, kind, deviceId: "b1", detail: detail as TraceEventDto["detail"] };
}

describe("entries", () => {
  it("a console line and the same line from the stream have the same key", () => {
    const a = fromConsoleLine({ at: "2026-01-01T00:00:00.100Z", direction: "in", text: "hello", hex: null, frame: false });
    const b = fromTraceEvent(ev(7, "serial.line", { text: "hello", hex: null, frame: false, partial: false, warning: null, receivedAt: "2026-01-01T00:00:00.100Z" }));
    expect(b?.key).toBe(a.key);
    expect(appendEntries([a], [b!])).toHaveLength(1);
  });

  it("reads sent lines with their sentAt time and frames", () => {
    const e = fromTraceEvent(ev(8, "serial.sent", { text: "@@ METHOD 1 echo {}", hex: null, frame: true, sentAt: "2026-01-01T00:00:01.000Z" }));
    expect(e).toMatchObject({ direction: "out", frame: true, at: "2026-01-01T00:00:01.000Z" });
  });

  it("keeps warnings and partial marks", () => {
    const e = fromTraceEvent(ev(9, "serial.line", { text: "@@ FLY", frame: false, partial: true, warning: "looks like a frame but is not" }));
    expect(e).toMatchObject({ partial: true, warning: "looks like a frame but is not", at: "2026-01-01T00:00:00.500Z" });
  });

  it("describes port events", () => {
    expect(fromTraceEvent(ev(10, "serial.port", { event: "disappeared", path: "/dev/ttyUSB0", error: "gone" }))?.text).toBe("board disappeared /dev/ttyUSB0: gone");
    expect(fromTraceEvent(ev(11, "serial.port", { event: "reset", pulseMs: 100 }))).toMatchObject({ direction: "port", text: "board reset" });
  });

  it("ignores other kinds", () => {
    expect(fromTraceEvent(ev(12, "c2d.enqueued", {}))).toBeNull();
  });
});

describe("appendEntries", () => {
  const line = (n: number) => fromConsoleLine({ at: `2026-01-01T00:00:0${n}.000Z`, direction: "in", text: `l${n}`, hex: null, frame: false });

  it("keeps order, skips duplicates and trims to max", () => {
    const cur = [line(1), line(2)];
    expect(appendEntries(cur, [line(2), line(3), line(3)]).map((e) => e.text)).toEqual(["l1", "l2", "l3"]);
    expect(appendEntries(cur, [line(3)], 2).map((e) => e.text)).toEqual(["l2", "l3"]);
    expect(appendEntries(cur, [line(1)])).toBe(cur);
  });
});

describe("displayText and entryHex", () => {
  const entry = (text: string | null, hex: string | null = null) => fromConsoleLine({ at: "x", direction: "in", text, hex, frame: false });

  it("drops the line ending and shows control characters as symbols", () => {
    expect(displayText(entry("ok\r\n"))).toBe("ok");
    expect(displayText(entry("a\rb\x1bc\x00\td\x7f"))).toBe("a␍b␛c␀\td␡");
  });

  it("shows hex-only lines as hex", () => {
    expect(displayText(entry(null, "ff 00"))).toBe("[hex] ff 00");
    expect(entryHex(entry(null, "ff 00"))).toBe("ff 00");
  });

  it("gives the UTF-8 bytes of text lines", () => {
    expect(entryHex(entry("Aé\n"))).toBe("41 c3 a9 0a");
  });
});

describe("serialSendRequest", () => {
  it("sets exactly the field of the mode", () => {
    expect(serialSendRequest("text", "ping")).toEqual({ text: "ping", hex: null, escaped: null });
    expect(serialSendRequest("hex", "41 0a")).toEqual({ text: null, hex: "41 0a", escaped: null });
    expect(serialSendRequest("escaped", "AT\\r\\n")).toEqual({ text: null, hex: null, escaped: "AT\\r\\n" });
  });
});

describe("usbId", () => {
  it("writes four hex digits", () => {
    expect(usbId(0x403)).toBe("0403");
    expect(usbId(0x10c4)).toBe("10c4");
    expect(usbId(null)).toBe("");
  });
});
