import { describe, expect, it } from "vitest";
import { ago, bytes, clock, countdown, dateTime, parseDateTime, showDateTime, timeTicks } from "../src/lib/logic/format";

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

  it("gives a full date and 24-hour time after a day", () => {
    const iso = at(-2 * 86400);
    expect(ago(iso, NOW)).toBe(dateTime(iso));
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

  it("reads the afternoon on a 24-hour clock, with or without milliseconds", () => {
    const d = new Date(2026, 2, 1, 21, 5, 7, 42);
    expect(clock(d.getTime())).toBe("21:05:07.042");
    expect(clock(d.toISOString(), false)).toBe("21:05:07");
  });

  it("echoes an unparsable time", () => {
    expect(clock("nope")).toBe("nope");
  });
});

describe("dateTime", () => {
  it("shows the local date and 24-hour time, with no AM or PM", () => {
    expect(dateTime(new Date(2030, 0, 2, 13, 4, 5).toISOString())).toBe("2030-01-02 13:04:05");
    expect(dateTime("never")).toBe("never");
  });
});

describe("timeTicks", () => {
  const s = (...a: [number, number, number, number, number, number]) => new Date(...a).getTime() / 1000;

  it("labels hours and minutes on a 24-hour clock", () => {
    expect(timeTicks([s(2030, 0, 2, 13, 0, 0), s(2030, 0, 2, 13, 30, 0)])).toEqual(["13:00", "13:30"]);
  });

  it("adds seconds when a tick falls between minutes", () => {
    expect(timeTicks([s(2030, 0, 2, 23, 59, 50), s(2030, 0, 2, 23, 59, 55)])).toEqual(["23:59:50", "23:59:55"]);
  });

  it("adds the date when the ticks span days", () => {
    expect(timeTicks([s(2030, 0, 2, 18, 0, 0), s(2030, 0, 3, 6, 0, 0)])).toEqual(["01-02 18:00", "01-03 06:00"]);
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

describe("parseDateTime", () => {
  const today = new Date(2030, 0, 2, 9, 0, 0);

  it("reads a date and a 24-hour time, with or without seconds", () => {
    expect(parseDateTime("2030-01-02 13:04", today)).toBe("2030-01-02T13:04:00");
    expect(parseDateTime(" 2030-01-02T23:59:59 ", today)).toBe("2030-01-02T23:59:59");
  });

  it("reads a time alone as today", () => {
    expect(parseDateTime("7:30", today)).toBe("2030-01-02T07:30:00");
  });

  it("clears on empty input and refuses anything else", () => {
    expect(parseDateTime("", today)).toBe("");
    for (const bad of ["1 pm", "13:04 PM", "2030-02-30 10:00", "25:00", "12:60", "yesterday"]) expect(parseDateTime(bad, today), bad).toBeNull();
  });

  it("shows a kept value the way it is typed", () => {
    expect(showDateTime("2030-01-02T13:04:05")).toBe("2030-01-02 13:04:05");
    expect(showDateTime("")).toBe("");
  });
});
