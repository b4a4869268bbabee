import { describe, expect, it } from "vitest";
import { appendEntries, type ConsoleEntry, displayText, entryHex, fromTraceEvent, serialSendRequest, usbId } from "../src/lib/logic/serialConsole";
import { one, variant } from "./support/events";

describe("entries", () => {
  it("is keyed by trace event, so the query and the stream overlap without doubles and equal lines stay two", () => {
    const line = fromTraceEvent(one("serial.line"))!;
    expect(line.key).toBe(one("serial.line").id);
    expect(appendEntries([line], [line])).toHaveLength(1);
    const twin = fromTraceEvent(variant(one("serial.line"), { id: one("serial.line").id + 100 }))!;
    expect(appendEntries([line], [twin])).toHaveLength(2);
  });

  it("reads sent lines with their sentAt time and frames", () => {
    const sent = one("serial.sent");
    expect(fromTraceEvent(sent)).toMatchObject({ direction: "out", frame: true, at: sent.detail.sentAt, text: "@@ WHO" });
  });

  it("keeps warnings and partial marks", () => {
    const e = fromTraceEvent(variant(one("serial.line"), { detail: { text: "@@ FLY", partial: true, warning: "looks like a frame but is not" } }));
    expect(e).toMatchObject({ partial: true, warning: "looks like a frame but is not" });
  });

  it("describes port events", () => {
    const port = one("serial.port");
    expect(fromTraceEvent(port)).toMatchObject({ direction: "port", text: "port opened /dev/ttyACM0" });
    expect(fromTraceEvent(variant(port, { detail: { event: "disappeared", error: "gone" } }))?.text).toBe("board unplugged /dev/ttyACM0: gone");
  });

  it("ignores other kinds", () => {
    expect(fromTraceEvent(one("c2d.enqueued"))).toBeNull();
  });
});

describe("appendEntries", () => {
  const line = (id: number): ConsoleEntry => ({ ...fromTraceEvent(one("serial.line"))!, key: id, text: `l${id}` });

  it("keeps trace order, skips duplicates and trims to max", () => {
    const cur = [line(1), line(2)];
    expect(appendEntries(cur, [line(2), line(4), line(3), line(3)]).map((e) => e.text)).toEqual(["l1", "l2", "l3", "l4"]);
    expect(appendEntries(cur, [line(3)], 2).map((e) => e.text)).toEqual(["l2", "l3"]);
    expect(appendEntries(cur, [line(1)])).toBe(cur);
  });
});

describe("displayText and entryHex", () => {
  const entry = (text: string | null, hex: string | null = null): ConsoleEntry => ({ ...fromTraceEvent(one("serial.line"))!, text, hex });

  it("drops the line ending and shows control characters as symbols", () => {
    expect(displayText(entry("ok\r\n"))).toBe("ok");
    expect(displayText(entry("a\rb\x1bc\x00\td\x7f"))).toBe("a␍b␛c␀\td␡");
  });

  it("shows a line's text with the bad bytes the hub escaped, and its raw bytes as hex", () => {
    const e = fromTraceEvent(one("serial.line"))!;
    expect(displayText(e)).toBe("boot \\xff ok");
    expect(entryHex(e)).toBe("62 6f 6f 74 20 ff 20 6f 6b");
  });

  it("shows hex-only lines (from an older hub) as hex", () => {
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
