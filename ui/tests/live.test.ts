// The shared live stream: trace events once each, the hub's storage
// problem (a full disk) as it starts and ends, and whether the hub answers.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type LiveState, LiveTrace, SILENCE_MS } from "../src/lib/live";
import type { StorageProblem } from "../src/lib/api/generated/StorageProblem";

class FakeSource {
  static last: FakeSource | null = null;
  private handlers = new Map<string, ((m: { data: string }) => void)[]>();
  constructor(readonly url: string) {
    FakeSource.last = this;
  }
  addEventListener(type: string, h: (m: { data: string }) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), h]);
  }
  emit(type: string, data: unknown = ""): void {
    for (const h of this.handlers.get(type) ?? []) h({ data: JSON.stringify(data) });
  }
  closed = false;
  close(): void {
    this.closed = true;
  }
}

beforeEach(() => vi.stubGlobal("EventSource", FakeSource));
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("LiveTrace", () => {
  it("passes storage problems on as they start and end", () => {
    const live = new LiveTrace(() => "/api/trace/stream");
    const seen: (StorageProblem | null)[] = [];
    live.onStorage((p) => seen.push(p));
    live.start(null);
    const problem: StorageProblem = {
      code: 507001,
      dir: "/data",
      since: "2030-01-01T00:00:00.000Z",
      lastFailure: "2030-01-01T00:00:01.000Z",
      message: "The disk holding /data is full",
    };
    FakeSource.last!.emit("storage", problem);
    FakeSource.last!.emit("storage", null);
    expect(seen).toEqual([problem, null]);
  });

  it("delivers each trace event once, in order", () => {
    const live = new LiveTrace(() => "/api/trace/stream");
    const ids: number[] = [];
    live.subscribe((e) => ids.push(e.id));
    live.start(null);
    for (const id of [1, 2, 2, 1, 3]) FakeSource.last!.emit("trace", { id, kind: "device.created" });
    expect(ids).toEqual([1, 2, 3]);
  });
});

describe("LiveTrace: is the hub there?", () => {
  /** A started stream, open, with the states it went through. */
  function opened() {
    vi.useFakeTimers();
    const live = new LiveTrace((after) => `/api/trace/stream?afterId=${after ?? ""}`);
    const states: LiveState[] = [];
    live.onState((s) => states.push(s));
    live.start(null);
    FakeSource.last!.emit("open");
    FakeSource.last!.emit("trace", { id: 7, kind: "device.created" });
    return { live, states };
  }

  it("says the hub is gone the moment the stream closes, and resumes after the last event", () => {
    const { live, states } = opened();
    const first = FakeSource.last!;
    first.emit("error");
    expect(live.state).toBe("reconnecting");
    expect(first.closed).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(FakeSource.last).not.toBe(first);
    expect(FakeSource.last!.url).toBe("/api/trace/stream?afterId=7");
    FakeSource.last!.emit("open");
    expect(states).toEqual(["connecting", "live", "reconnecting", "live"]);
    live.close();
  });

  it("notices a hub that went silent without closing the stream, within a second", () => {
    const { live } = opened();
    vi.advanceTimersByTime(SILENCE_MS - 100);
    expect(live.state).toBe("live");
    vi.advanceTimersByTime(200);
    expect(live.state).toBe("reconnecting");
    live.close();
  });

  it("stays live while the hub's heartbeats come, however quiet the hub is", () => {
    const { live } = opened();
    for (let t = 0; t < 10_000; t += 150) {
      vi.advanceTimersByTime(150);
      FakeSource.last!.emit("ping", {});
    }
    expect(live.state).toBe("live");
    live.close();
  });

  it("does not blame the hub when this page was too busy to check", () => {
    const { live } = opened();
    // The page froze for 2 s: the stream's events wait behind the check.
    vi.setSystemTime(Date.now() + 2000);
    vi.advanceTimersByTime(100);
    expect(live.state).toBe("live");
    live.close();
  });

  it("gives a resuming connection time to replay what it missed", () => {
    const { live } = opened();
    FakeSource.last!.emit("error");
    vi.advanceTimersByTime(1000);
    const resuming = FakeSource.last!;
    vi.advanceTimersByTime(3000);
    expect(FakeSource.last).toBe(resuming);
    resuming.emit("open");
    expect(live.state).toBe("live");
    live.close();
  });
});
