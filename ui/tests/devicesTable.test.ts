import { describe, expect, it } from "vitest";
import type { DeviceDto } from "../src/lib/api/generated/DeviceDto";
import type { SimStatusDto } from "../src/lib/api/generated/SimStatusDto";
import { applyEvents, bulk, bulkSummary, concernsDevices, filterDevices, fleetLabel, fleetsOf, mergeFleets, NO_FILTER, sortDevices, upsert } from "../src/lib/logic/devicesTable";
import { all, EVENTS, one, variant } from "./support/events";

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
    expect(ids({ text: " B " })).toEqual(["b"]);
    expect(ids({ connection: "connected" })).toEqual(["a", "c"]);
    expect(ids({ connection: "disconnected" })).toEqual(["b"]);
    expect(ids({ queued: true })).toEqual(["b"]);
    expect(ids({ fleet: fleets[0].key })).toEqual(["a", "b"]);
  });

  it("groups a fleet's devices under a readable label", () => {
    const fleets = fleetsOf([sim("lab-2", "thermo", 7, 1), sim("lab-10", "thermo", 7, 9), sim("x-1", "door", 3, 0), sim("solo", "thermo", 7, null)]);
    expect(fleets[0]).toEqual({ key: "thermo#7", profile: "thermo", seed: 7, ids: ["lab-2", "lab-10"] });
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

  it("patches connects, disconnects, status and deletions in place, and names devices it lacks", () => {
    const list = [dev("thermostat-1"), dev("spare", { generationId: one("device.deleted").detail.generationId })];
    const on = applyEvents(list, [one("device.attached")]);
    expect(on.unknown).toEqual([]);
    expect(on.list[0]).toMatchObject({ connectionState: "Connected", transport: one("device.attached").detail.via, lastActivityTime: one("device.attached").ts });
    // The input is untouched, and an unchanged row is the same object.
    expect(list[0].connectionState).toBe("Disconnected");
    expect(on.list[1]).toBe(list[1]);
    expect(applyEvents(on.list, [one("device.detached")]).list[0]).toMatchObject({ connectionState: "Disconnected", transport: null });
    const off = applyEvents(list, [one("device.disabled")]).list[1];
    expect(off).toMatchObject({ status: "disabled", etag: one("device.disabled").detail.etag });
    expect(applyEvents(list, [one("device.deleted")]).list.map((d) => d.deviceId)).toEqual(["thermostat-1"]);
    // A late deletion of an earlier generation leaves the new device alone.
    expect(applyEvents(list, [variant(one("device.deleted"), { deviceId: "thermostat-1" })]).list).toHaveLength(2);
    expect(applyEvents(list, [one("device.created", (e) => e.deviceId === "bench-7")]).unknown).toEqual(["bench-7"]);
    // A module's connection is not its device's.
    expect(applyEvents(list, [variant(one("device.attached"), { deviceId: "thermostat-1/probe" })]).list[0].connectionState).toBe("Disconnected");
  });

  it("keeps queue depths right through a whole C2D life cycle, counting each message out once", () => {
    // The contract run: enqueues, completions, a reject and an expiry (each
    // followed by its dead-lettering), an abandon, lock ends, a purge.
    const created = all("device.created").filter((e) => e.deviceId !== "spare");
    const start = created.map((e) => dev(e.deviceId!, { generationId: e.detail.generationId }));
    const { list } = applyEvents(start, EVENTS);
    const out = new Set(["c2d.completed", "c2d.rejected", "c2d.expired", "c2d.dead_lettered", "c2d.purged"]);
    for (const d of list) {
      const mine = EVENTS.filter((e) => e.deviceId === d.deviceId);
      const left = new Set(mine.filter((e) => out.has(e.kind)).map((e) => e.messageId));
      const queued = mine.filter((e) => e.kind === "c2d.enqueued" && !left.has(e.messageId)).length;
      expect(d.cloudToDeviceMessageCount, d.deviceId).toBe(queued);
    }
    // Not a vacuous check: the run ends with a message still queued.
    expect(list.some((d) => d.cloudToDeviceMessageCount > 0)).toBe(true);
    // Over a fresh snapshot the counts are the snapshot's.
    expect(applyEvents(start, EVENTS, false).list.map((d) => d.cloudToDeviceMessageCount)).toEqual([0, 0]);
  });

  it("looks only at events that can change a row", () => {
    expect(concernsDevices(one("device.attached"))).toBe(true);
    expect(concernsDevices(one("c2d.enqueued"))).toBe(true);
    expect(concernsDevices(one("telemetry.received"))).toBe(true);
    expect(concernsDevices(one("settings.changed"))).toBe(false);
    expect(concernsDevices(one("feedback.produced"))).toBe(false);
  });

  it("keeps upserted rows in place", () => {
    const list = [dev("a"), dev("b")];
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
