import { describe, expect, it } from "vitest";
import type { DeviceDto } from "../src/lib/api/generated/DeviceDto";
import type { SimStatusDto } from "../src/lib/api/generated/SimStatusDto";
import type { TraceEventDto } from "../src/lib/api/generated/TraceEventDto";
import { applyEvent, bulk, bulkSummary, filterDevices, fleetLabel, fleetsOf, mergeFleets, NO_FILTER, sortDevices, upsert } from "../src/lib/logic/devicesTable";

function dev(deviceId: string, over: Partial<DeviceDto> = {}): DeviceDto {
  return {
    deviceId,
    generationId: "g",
    etag: "e",
    status: "enabled",
    statusReason: null,
    statusUpdatedTime: "2026-01-01T00:00:00Z",
    connectionState: "Disconnected",
    connectionStateUpdatedTime: "2026-01-01T00:00:00Z",
    lastActivityTime: null,
    cloudToDeviceMessageCount: 0,
    authentication: { type: "sas", symmetricKey: { primaryKey: "p", secondaryKey: "s" } } as DeviceDto["authentication"],
    kind: "standard",
    transport: null,
    createdTime: "2026-01-01T00:00:00Z",
    modelId: "",
    ...over,
  };
}

function sim(deviceId: string, profile: string, seed: number, fleetIndex: number | null): SimStatusDto {
  return { deviceId, profile, seed, fleetIndex } as SimStatusDto;
}

const ev = (kind: string, deviceId: string, detail: unknown = {}) =>
  ({ id: 1, ts: "2026-01-02T00:00:00Z", monoUs: 0, deviceId, kind, detail }) as unknown as TraceEventDto;

describe("the devices table", () => {
  it("orders ids naturally, as people read them", () => {
    const ids = ["lab-10", "lab-2", "Lab-1", "lab-1", "gw"];
    expect(sortDevices(ids.map((i) => dev(i)), "id", "asc").map((d) => d.deviceId.toLowerCase())).toEqual(["gw", "lab-1", "lab-1", "lab-2", "lab-10"]);
  });

  it("sorts by a column both ways, ties in id order", () => {
    const list = [dev("b-2", { cloudToDeviceMessageCount: 1 }), dev("b-10", { cloudToDeviceMessageCount: 3 }), dev("b-1", { cloudToDeviceMessageCount: 1 })];
    expect(sortDevices(list, "queue", "desc").map((d) => d.deviceId)).toEqual(["b-10", "b-2", "b-1"]);
    expect(sortDevices(list, "queue", "asc").map((d) => d.deviceId)).toEqual(["b-1", "b-2", "b-10"]);
  });

  it("filters by kind, connection, a non-empty queue and a fleet", () => {
    const list = [
      dev("a", { kind: "simulated", connectionState: "Connected" }),
      dev("b", { kind: "simulated", cloudToDeviceMessageCount: 2 }),
      dev("c", { kind: "serialBoard", connectionState: "Connected" }),
    ];
    const fleets = fleetsOf([sim("a", "thermo", 7, 0), sim("b", "thermo", 7, 1), sim("z", "door", 1, null)]);
    expect(fleets).toHaveLength(1);
    const ids = (f: Partial<typeof NO_FILTER>) => filterDevices(list, { ...NO_FILTER, ...f }, fleets).map((d) => d.deviceId);
    expect(ids({ kind: "simulated" })).toEqual(["a", "b"]);
    expect(ids({ connection: "connected" })).toEqual(["a", "c"]);
    expect(ids({ connection: "disconnected" })).toEqual(["b"]);
    expect(ids({ queued: true })).toEqual(["b"]);
    expect(ids({ fleet: fleets[0].key })).toEqual(["a", "b"]);
  });

  it("groups a fleet's devices under a readable label", () => {
    const fleets = fleetsOf([sim("lab-2", "thermo", 7, 1), sim("lab-10", "thermo", 7, 9), sim("x-1", "door", 3, 0), sim("solo", "thermo", 7, null)]);
    expect(fleets[0]).toEqual({ key: "thermo#7", profile: "thermo", ids: ["lab-2", "lab-10"] });
    expect(fleetLabel(fleets[0])).toBe("lab-… (thermo, 2)");
    expect(fleets[1].ids).toEqual(["x-1"]);
  });

  it("keeps a stopped fleet as a unit while its devices exist", () => {
    const before = fleetsOf([sim("lab-1", "thermo", 7, 0), sim("lab-2", "thermo", 7, 1)]);
    // Stopped: no longer running, still registered.
    const kept = mergeFleets(before, [], () => true);
    expect(kept.map((f) => f.ids)).toEqual([["lab-1", "lab-2"]]);
    // One deleted, then the other: the fleet goes with its last device.
    expect(mergeFleets(kept, [], (id) => id === "lab-2")[0].ids).toEqual(["lab-2"]);
    expect(mergeFleets(kept, [], () => false)).toEqual([]);
  });

  it("patches connects, disconnects and deletions in place, and asks for what it cannot know", () => {
    const list = [dev("a"), dev("b")];
    const on = applyEvent(list, ev("device.attached", "a", { via: "mqtts" }));
    expect(on.refetch).toEqual([]);
    expect(on.list[0]).toMatchObject({ connectionState: "Connected", transport: "mqtts", connectionStateUpdatedTime: "2026-01-02T00:00:00Z" });
    expect(list[0].connectionState).toBe("Disconnected");
    expect(applyEvent(on.list, ev("device.detached", "a")).list[0].connectionState).toBe("Disconnected");
    expect(applyEvent(list, ev("device.deleted", "b")).list.map((d) => d.deviceId)).toEqual(["a"]);
    expect(applyEvent(list, ev("c2d.enqueued", "a")).refetch).toEqual(["a"]);
    expect(applyEvent(list, ev("device.created", "new")).refetch).toEqual(["new"]);
    expect(applyEvent(list, ev("telemetry.received", "a"))).toEqual({ list, refetch: [] });
    expect(upsert(list, dev("new")).map((d) => d.deviceId)).toEqual(["a", "b", "new"]);
    expect(upsert(list, dev("a", { status: "disabled" }))[0].status).toBe("disabled");
  });

  it("runs a bulk action on all, and says which failed", async () => {
    const r = await bulk(["a", "b", "c", "d"], async (id) => {
      if (id === "c") throw new Error("gone");
    }, 2);
    expect(r.done.sort()).toEqual(["a", "b", "d"]);
    expect(bulkSummary("Stopped", 4, r)).toBe("Stopped 3 of 4; 1 failed: c (gone)");
    expect(bulkSummary("Deleted", 1, { done: ["a"], failed: [] })).toBe("Deleted 1 device");
  });
});
