import { describe, expect, it } from "vitest";
import { assembleStory } from "../src/lib/logic/story";
import { appendCapped, formatOffset, kindAlert, kindFamily, prependCapped, storyKey, storyPath } from "../src/lib/logic/traceView";
import { one, storyOf, variant } from "./support/events";

const ids = (xs: { id: number }[]) => xs.map((x) => x.id);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => ({ id: a + i }));

describe("kindFamily / kindAlert / storyKey", () => {
  it("takes the family before the first dot", () => {
    expect(kindFamily("c2d.lock_expired")).toBe("c2d");
    expect(kindFamily("weird")).toBe("weird");
  });
  it("marks failures, warnings and feedback outcomes", () => {
    expect(kindAlert(one("method.timed_out"))).toBe("bad");
    expect(kindAlert(one("c2d.abandoned"))).toBe("warn");
    expect(kindAlert(one("feedback.produced", (e) => e.detail.statusCode === "Success"))).toBe("ok");
    expect(kindAlert(one("feedback.produced", (e) => e.detail.statusCode === "Purged"))).toBe("bad");
    const answered = one("method.responded");
    expect(kindAlert(answered)).toBeNull();
    expect(kindAlert(variant(answered, { detail: { status: 404 } }))).toBe("warn");
    expect(kindAlert(one("c2d.enqueued"))).toBeNull();
  });
  it("opens a story by message id, else request id", () => {
    expect(storyKey({ messageId: "m", requestId: "r" })).toBe("m");
    expect(storyKey({ requestId: "r" })).toBe("r");
    expect(storyKey({})).toBeNull();
  });
});

describe("formatOffset", () => {
  it("reads like a stopwatch", () => {
    expect(formatOffset(0)).toBe("+0 ms");
    expect(formatOffset(12.4)).toBe("+12 ms");
    expect(formatOffset(1250)).toBe("+1.25 s");
    expect(formatOffset(12_340)).toBe("+12.3 s");
    expect(formatOffset(123_000)).toBe("+2 min 3 s");
    expect(formatOffset(3_780_000)).toBe("+1 h 3 min");
    expect(formatOffset(-5)).toBe("−5 ms");
  });
});

describe("storyPath", () => {
  it("says a message's life in a few words", () => {
    expect(storyPath(assembleStory(storyOf("m-complete")))).toBe("enqueued → delivered → completed → feedback: Success");
  });
  it("collapses repeats", () => {
    const [enq, del] = storyOf("m-complete");
    const redelivered = [enq, del, variant(del, { id: del.id + 1 }), variant(del, { id: del.id + 2 })];
    expect(storyPath(assembleStory(redelivered))).toBe("enqueued → delivered ×3");
  });
  it("says a call's life", () => {
    expect(storyPath(assembleStory(storyOf("1")))).toBe("invoked → delivered → answered 200");
  });
});

describe("appendCapped", () => {
  it("appends only events newer than the last one", () => {
    const r = appendCapped(range(1, 3), [{ id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }], 10);
    expect(ids(r.events)).toEqual([1, 2, 3, 4, 5]);
    expect(r.dropped).toBe(0);
  });
  it("returns the same array when there is nothing new", () => {
    const cur = range(1, 3);
    expect(appendCapped(cur, [{ id: 3 }], 10).events).toBe(cur);
  });
  it("does not modify its input", () => {
    const cur = range(1, 3);
    appendCapped(cur, range(4, 6), 4);
    expect(ids(cur)).toEqual([1, 2, 3]);
  });
  it("drops the oldest beyond the cap and says how many", () => {
    const r = appendCapped(range(1, 5), range(6, 8), 6);
    expect(ids(r.events)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(r.dropped).toBe(2);
  });
  it("keeps the newest of a batch bigger than the cap", () => {
    const r = appendCapped(range(1, 2), range(3, 10), 3);
    expect(ids(r.events)).toEqual([8, 9, 10]);
    expect(r.dropped).toBe(7);
  });
  it("keeps the newest million events", () => {
    const big = range(1, 1_000_000);
    const r = appendCapped(big, range(1_000_001, 1_001_000), 1_000_000);
    expect(r.events.length).toBe(1_000_000);
    expect(r.events[0].id).toBe(1001);
    expect(r.dropped).toBe(1000);
  });
});

describe("prependCapped", () => {
  it("puts older events in front", () => {
    const r = prependCapped(range(5, 6), range(1, 4), 10);
    expect(ids(r.events)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.added).toBe(4);
  });
  it("skips events not older than the first", () => {
    const r = prependCapped(range(5, 6), range(3, 6), 10);
    expect(ids(r.events)).toEqual([3, 4, 5, 6]);
  });
  it("adds only the newest that fit under the cap", () => {
    const r = prependCapped(range(5, 6), range(1, 4), 4);
    expect(ids(r.events)).toEqual([3, 4, 5, 6]);
    expect(r.added).toBe(2);
  });
  it("adds nothing when full", () => {
    const cur = range(5, 6);
    const r = prependCapped(cur, range(1, 4), 2);
    expect(r.events).toBe(cur);
    expect(r.added).toBe(0);
  });
});
