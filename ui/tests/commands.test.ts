import { beforeEach, describe, expect, it } from "vitest";
import { deleteCommand, history, remember, saveCommand, savedCommands, type HistoryEntry, type SavedCommand } from "../src/lib/logic/commands";
import { MemoryStorage } from "./support/memoryStorage";


const cmd = (name: string, methodName = "reboot"): SavedCommand => ({
  name,
  methodName,
  payload: "{}",
  connectTimeout: 0,
  responseTimeout: 30,
});

const call = (deviceId: string, n: number): HistoryEntry => ({
  deviceId,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  methodName: `m${n}`,
  payload: "null",
  connectTimeout: 0,
  responseTimeout: 30,
  status: 200,
  errorCode: null,
  latencyMs: n,
  result: "{}",
});

let s: MemoryStorage;
beforeEach(() => {
  s = new MemoryStorage();
});

describe("saved commands", () => {
  it("start empty", () => {
    expect(savedCommands(s)).toEqual([]);
  });

  it("are kept sorted by name and survive a reload from storage", () => {
    saveCommand(cmd("zeta"), s);
    saveCommand(cmd("alpha"), s);
    expect(savedCommands(s).map((c) => c.name)).toEqual(["alpha", "zeta"]);
  });

  it("replace a command with the same name", () => {
    saveCommand(cmd("go", "start"), s);
    const all = saveCommand(cmd("go", "stop"), s);
    expect(all).toHaveLength(1);
    expect(savedCommands(s)[0].methodName).toBe("stop");
  });

  it("can be deleted by name", () => {
    saveCommand(cmd("a"), s);
    saveCommand(cmd("b"), s);
    expect(deleteCommand("a", s).map((c) => c.name)).toEqual(["b"]);
    expect(savedCommands(s).map((c) => c.name)).toEqual(["b"]);
    expect(deleteCommand("missing", s).map((c) => c.name)).toEqual(["b"]);
  });

  it("read as empty when the stored value is corrupt or not a list", () => {
    s.setItem("hublet.savedCommands", "{not json");
    expect(savedCommands(s)).toEqual([]);
    s.setItem("hublet.savedCommands", '{"a":1}');
    expect(savedCommands(s)).toEqual([]);
  });
});

describe("call history", () => {
  it("keeps the newest call first", () => {
    remember(call("d1", 1), s);
    remember(call("d1", 2), s);
    expect(history("d1", s).map((h) => h.methodName)).toEqual(["m2", "m1"]);
  });

  it("filters by device, or gives every call for null", () => {
    remember(call("d1", 1), s);
    remember(call("d2", 2), s);
    remember(call("d1", 3), s);
    expect(history("d1", s).map((h) => h.methodName)).toEqual(["m3", "m1"]);
    expect(history("d2", s).map((h) => h.methodName)).toEqual(["m2"]);
    expect(history(null, s)).toHaveLength(3);
    expect(history("d3", s)).toEqual([]);
  });

  it("keeps only the last 100 calls", () => {
    for (let i = 0; i < 105; i++) remember(call("d", i), s);
    const all = history(null, s);
    expect(all).toHaveLength(100);
    expect(all[0].methodName).toBe("m104");
    expect(all[99].methodName).toBe("m5");
  });

  it("is independent of saved commands", () => {
    remember(call("d", 1), s);
    expect(savedCommands(s)).toEqual([]);
    saveCommand(cmd("x"), s);
    expect(history(null, s)).toHaveLength(1);
  });
});
