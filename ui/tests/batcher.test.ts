import { describe, expect, it } from "vitest";
import { Batcher, type Timer } from "../src/lib/logic/batcher";

/** A timer driven by the test. */
function manual() {
  const due: { fn: () => void; ms: number; h: number }[] = [];
  let next = 1;
  const timer: Timer = {
    set: (fn, ms) => {
      const h = next++;
      due.push({ fn, ms, h });
      return h;
    },
    clear: (h) => {
      const i = due.findIndex((d) => d.h === h);
      if (i >= 0) due.splice(i, 1);
    },
  };
  const fire = () => due.splice(0).forEach((d) => d.fn());
  return { timer, due, fire };
}

describe("Batcher", () => {
  it("hands over everything pushed in one interval as one batch, in order", () => {
    const t = manual();
    const got: number[][] = [];
    const b = new Batcher<number>((xs) => got.push(xs), 100, t.timer);
    for (let i = 0; i < 1000; i++) b.push(i);
    expect(got).toEqual([]);
    expect(t.due.length).toBe(1);
    expect(t.due[0].ms).toBe(100);
    expect(b.size).toBe(1000);
    t.fire();
    expect(got.length).toBe(1);
    expect(got[0].length).toBe(1000);
    expect(got[0][999]).toBe(999);
    expect(b.size).toBe(0);
  });
  it("starts a new interval after a flush", () => {
    const t = manual();
    const got: number[][] = [];
    const b = new Batcher<number>((xs) => got.push(xs), 100, t.timer);
    b.push(1);
    t.fire();
    b.push(2);
    b.push(3);
    t.fire();
    expect(got).toEqual([[1], [2, 3]]);
  });
  it("flushNow hands over at once and clears the timer", () => {
    const t = manual();
    const got: number[][] = [];
    const b = new Batcher<number>((xs) => got.push(xs), 100, t.timer);
    b.push(1);
    b.flushNow();
    expect(got).toEqual([[1]]);
    expect(t.due.length).toBe(0);
    b.flushNow();
    expect(got.length).toBe(1);
  });
  it("cancel drops what is pending", () => {
    const t = manual();
    const got: number[][] = [];
    const b = new Batcher<number>((xs) => got.push(xs), 100, t.timer);
    b.push(1);
    b.cancel();
    t.fire();
    b.flushNow();
    expect(got).toEqual([]);
    expect(b.size).toBe(0);
  });
});
