import { describe, expect, it } from "vitest";
import { ago, bytes, clock, countdown } from "../src/lib/logic/format";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const at = (secondsFromNow: number) => new Date(NOW + secondsFromNow * 1000).toISOString();

describe("countdown", () => {
  it("counts seconds, minutes, hours and days left", () => {
    expect(countdown(at(59), NOW)).toBe("59 s");
    expect(countdown(at(60), NOW)).toBe("1 min 0 s");
    expect(countdown(at(250), NOW)).toBe("4 min 10 s");
    expect(countdown(at(3600 + 180 + 5), NOW)).toBe("1 h 3 min");
    expect(countdown(at(2 * 86400 + 5 * 3600), NOW)).toBe("2 d 5 h");
  });

  it("rounds partial seconds down", () => {
    expect(countdown(new Date(NOW + 1999).toISOString(), NOW)).toBe("1 s");
  });

  it("says expired at and after the time", () => {
    expect(countdown(at(0), NOW)).toBe("expired");
    expect(countdown(new Date(NOW + 999).toISOString(), NOW)).toBe("expired");
    expect(countdown(at(-10), NOW)).toBe("expired");
  });

  it("shows a dash for no time and the input for an unparsable one", () => {
    expect(countdown(null, NOW)).toBe("—");
    expect(countdown(undefined, NOW)).toBe("—");
    expect(countdown("soon", NOW)).toBe("soon");
  });
});

describe("ago", () => {
  it("says just now under 5 s, then seconds, minutes, hours", () => {
    expect(ago(at(-2), NOW)).toBe("just now");
    expect(ago(at(-5), NOW)).toBe("5 s ago");
    expect(ago(at(-59), NOW)).toBe("59 s ago");
    expect(ago(at(-60), NOW)).toBe("1 min ago");
    expect(ago(at(-3599), NOW)).toBe("59 min ago");
    expect(ago(at(-7200), NOW)).toBe("2 h ago");
  });

  it("gives a full date after a day", () => {
    const iso = at(-2 * 86400);
    expect(ago(iso, NOW)).toBe(new Date(iso).toLocaleString());
  });

  it("says never for no time and echoes an unparsable one", () => {
    expect(ago(null, NOW)).toBe("never");
    expect(ago("", NOW)).toBe("never");
    expect(ago("yesterday", NOW)).toBe("yesterday");
  });
});

describe("clock", () => {
  it("shows local time of day with milliseconds", () => {
    const d = new Date(2026, 2, 1, 9, 5, 7, 42);
    expect(clock(d.toISOString())).toBe("09:05:07.042");
  });

  it("echoes an unparsable time", () => {
    expect(clock("nope")).toBe("nope");
  });
});

describe("bytes", () => {
  it("uses B, KB, MB and GB", () => {
    expect(bytes(0)).toBe("0 B");
    expect(bytes(1023)).toBe("1023 B");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(5 * 1024 * 1024)).toBe("5.0 MB");
    expect(bytes(3 * 1024 ** 3)).toBe("3.00 GB");
  });
});
