import { beforeEach, describe, expect, it } from "vitest";
import {
  activeRecording,
  cancelRecording,
  defaultName,
  deleteRecording,
  isEmptyRecording,
  recordingRange,
  recordings,
  renameRecording,
  startRecording,
  stopRecording,
} from "../src/lib/logic/recordings";
import { EMPTY_FILTER, type TraceFilter } from "../src/lib/logic/traceFilter";
import { MemoryStorage } from "./support/memoryStorage";


let s: MemoryStorage;
beforeEach(() => {
  s = new MemoryStorage();
});

const filter: TraceFilter = { ...EMPTY_FILTER, deviceId: "thermostat-1", kinds: ["c2d", "feedback"] };
const t = (iso: string) => new Date(iso);

describe("recordings", () => {
  it("starts, survives a reload, stops and is saved with its range and filter", () => {
    const a = startRecording("  reboot bug  ", 120, filter, t("2024-05-01T10:00:00Z"), s);
    expect(a).toEqual({ name: "reboot bug", startId: 120, startedAt: "2024-05-01T10:00:00.000Z", filter });
    // The one in progress is stored, so a reload of the page keeps it.
    expect(activeRecording(s)).toEqual(a);

    const r = stopRecording(175, t("2024-05-01T10:02:00Z"), s);
    expect(r).toMatchObject({ name: "reboot bug", startId: 120, endId: 175, startedAt: "2024-05-01T10:00:00.000Z", stoppedAt: "2024-05-01T10:02:00.000Z", filter });
    expect(activeRecording(s)).toBeNull();
    expect(recordings(s)).toEqual([r]);
  });

  it("copies the filter, so later edits do not change the recording", () => {
    const f: TraceFilter = { ...EMPTY_FILTER, kinds: ["c2d"] };
    startRecording("x", 1, f, new Date(), s);
    f.kinds.push("method");
    expect(activeRecording(s)?.filter.kinds).toEqual(["c2d"]);
  });

  it("names an unnamed recording after its start time", () => {
    const now = new Date(2024, 4, 1, 9, 5);
    expect(startRecording(" ", 0, EMPTY_FILTER, now, s).name).toBe("Recording 2024-05-01 09:05");
    expect(defaultName(now)).toBe("Recording 2024-05-01 09:05");
  });

  it("lists the newest first and gives each a distinct id", () => {
    const now = t("2024-05-01T10:00:00Z");
    startRecording("one", 1, EMPTY_FILTER, now, s);
    const one = stopRecording(5, now, s)!;
    startRecording("two", 1, EMPTY_FILTER, now, s);
    const two = stopRecording(9, now, s)!;
    expect(recordings(s).map((r) => r.name)).toEqual(["two", "one"]);
    expect(one.id).not.toBe(two.id);
  });

  it("never ends before it started", () => {
    startRecording("x", 50, EMPTY_FILTER, new Date(), s);
    const r = stopRecording(40, new Date(), s)!;
    expect(r.endId).toBe(50);
    expect(isEmptyRecording(r)).toBe(true);
  });

  it("stop without start does nothing", () => {
    expect(stopRecording(10, new Date(), s)).toBeNull();
    expect(recordings(s)).toEqual([]);
  });

  it("cancel forgets the recording in progress", () => {
    startRecording("x", 1, EMPTY_FILTER, new Date(), s);
    cancelRecording(s);
    expect(activeRecording(s)).toBeNull();
    expect(recordings(s)).toEqual([]);
  });

  it("deletes and renames by id", () => {
    startRecording("a", 1, EMPTY_FILTER, new Date(), s);
    const a = stopRecording(2, new Date(1000), s)!;
    startRecording("b", 2, EMPTY_FILTER, new Date(), s);
    const b = stopRecording(3, new Date(2000), s)!;
    expect(renameRecording(a.id, " renamed ", s).find((r) => r.id === a.id)?.name).toBe("renamed");
    expect(renameRecording(a.id, "  ", s).find((r) => r.id === a.id)?.name).toBe("renamed");
    expect(deleteRecording(a.id, s).map((r) => r.id)).toEqual([b.id]);
    expect(recordings(s).map((r) => r.id)).toEqual([b.id]);
  });

  it("ignores broken storage and broken entries", () => {
    s.setItem("hublet.recordings", "{not json");
    expect(recordings(s)).toEqual([]);
    s.setItem("hublet.recordings", JSON.stringify([{ name: "no ids" }, 7, null]));
    expect(recordings(s)).toEqual([]);
    s.setItem("hublet.recording.active", JSON.stringify({ name: "x", startId: "1" }));
    expect(activeRecording(s)).toBeNull();
  });
});

describe("recordingRange", () => {
  it("covers the events after the start up to and including the end", () => {
    expect(recordingRange({ startId: 120, endId: 175 })).toEqual({ afterId: 120, beforeId: 176 });
  });
});
