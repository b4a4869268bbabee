import { beforeEach, describe, expect, it } from "vitest";
import type { LibraryCommand } from "../src/lib/api/generated/LibraryCommand";
import {
  keepLegacySaved,
  history,
  legacySavedCommands,
  messageCommands,
  messageFromLibrary,
  messageToLibrary,
  methodCommands,
  planMigration,
  remember,
  toLibrary,
  type HistoryEntry,
  type MessageForm,
  type SavedCommand,
} from "../src/lib/logic/commands";
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
  it("an older Hublet kept in the browser are read once, then forgotten", () => {
    expect(legacySavedCommands(s)).toEqual([]);
    s.setItem("hublet.savedCommands", JSON.stringify([cmd("a"), cmd("b")]));
    expect(legacySavedCommands(s).map((c) => c.name)).toEqual(["a", "b"]);
    keepLegacySaved([cmd("b")], s);
    expect(legacySavedCommands(s).map((c) => c.name)).toEqual(["b"]);
    keepLegacySaved([], s);
    expect(legacySavedCommands(s)).toEqual([]);
  });

  it("read as none when the stored value is corrupt or not a list", () => {
    s.setItem("hublet.savedCommands", "{not json");
    expect(legacySavedCommands(s)).toEqual([]);
    s.setItem("hublet.savedCommands", '{"a":1}');
    expect(legacySavedCommands(s)).toEqual([]);
  });

  it("become library commands with their payload as JSON", () => {
    expect(toLibrary({ ...cmd("go", "start"), payload: '{"speed": 3}', connectTimeout: 5 })).toEqual({
      name: "go",
      kind: "method",
      method: "start",
      payload: { speed: 3 },
      connect_timeout: 5,
      response_timeout: 30,
    });
    expect(toLibrary({ ...cmd("empty"), payload: "  " })).not.toHaveProperty("payload");
    expect(toLibrary({ ...cmd("bad"), payload: "{nope" })).toBeNull();
  });

  it("move with valid names, never over another command, and stay when they cannot", () => {
    const existing: LibraryCommand[] = [
      { name: "same", kind: "method", method: "reboot", payload: {}, connect_timeout: 0, response_timeout: 30 },
      { name: "clash", kind: "method", method: "other" },
    ];
    const plan = planMigration(
      [cmd("my reboot"), cmd("same"), cmd("clash"), { ...cmd("raw"), payload: "{not json" }],
      existing,
    );
    expect(plan.save.map((c) => c.name)).toEqual(["my-reboot", "clash-browser"]);
    expect(plan.keep.map((c) => c.name)).toEqual(["raw"]);
  });

  it("of the library, the methods only, by name", () => {
    const lib: LibraryCommand[] = [
      { name: "z", kind: "method", method: "m" },
      { name: "led", kind: "c2d", body: "on" },
      { name: "a", kind: "method", method: "n" },
    ];
    expect(methodCommands(lib).map((c) => c.name)).toEqual(["a", "z"]);
  });
});

describe("saved messages", () => {
  const form: MessageForm = {
    mode: "json",
    body: '{"led": "on"}',
    properties: { kind: "led" },
    ack: "full",
    ttl: "60",
    contentType: "",
    contentEncoding: "",
    correlationId: " c-1 ",
  };

  it("keep a JSON body as JSON and only the fields given, and come back the same", () => {
    const lib = messageToLibrary("led-on", form);
    expect(lib).toEqual({ name: "led-on", kind: "c2d", body: { led: "on" }, properties: { kind: "led" }, ack: "full", ttl_secs: 60, correlation_id: "c-1" });
    const back = messageFromLibrary(lib as Extract<typeof lib, { kind: "c2d" }>);
    expect(back).toEqual({ ...form, body: '{\n  "led": "on"\n}', correlationId: "c-1" });
    expect(messageToLibrary("x", { ...form, body: "{oops" })).toBeNull();
  });

  it("keep text and hex bodies as they are written", () => {
    const hex = messageToLibrary("raw", { ...form, mode: "hex", body: "de ad", properties: {}, ack: "none", ttl: "" });
    expect(hex).toMatchObject({ body: "de ad", body_encoding: "hex" });
    expect(hex).not.toHaveProperty("ack");
    expect(messageFromLibrary(hex as Extract<typeof hex, { kind: "c2d" }>).mode).toBe("hex");
    expect(messageCommands([hex!, { name: "m", kind: "method", method: "x" }]).map((c) => c.name)).toEqual(["raw"]);
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
    expect(legacySavedCommands(s)).toEqual([]);
    expect(history(null, s)).toHaveLength(1);
  });
});
