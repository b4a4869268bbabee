// The shared live stream: trace events once each, and the hub's storage
// problem (a full disk) as it starts and ends.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveTrace } from "../src/lib/live";
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
  emit(type: string, data: unknown): void {
    for (const h of this.handlers.get(type) ?? []) h({ data: JSON.stringify(data) });
  }
  close(): void {}
}

beforeEach(() => vi.stubGlobal("EventSource", FakeSource));
afterEach(() => vi.unstubAllGlobals());

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
