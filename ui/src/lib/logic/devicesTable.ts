// The Devices table at fleet scale: natural ordering (lab-2 before lab-10),
// sortable columns, filters, fleets, and keeping the list current from the
// live trace without refetching it all on every connect or disconnect.

import type { DeviceDto } from "../api/generated/DeviceDto";
import type { SimStatusDto } from "../api/generated/SimStatusDto";
import type { TraceEventDto } from "../api/generated/TraceEventDto";

/** Ids compare as people read them: digits by value, case ignored. */
const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
export const compareIds = (a: string, b: string): number => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

export type SortKey = "id" | "kind" | "connection" | "queue" | "activity" | "status";
export type SortDir = "asc" | "desc";

const byKey: Record<SortKey, (a: DeviceDto, b: DeviceDto) => number> = {
  id: () => 0,
  kind: (a, b) => a.kind.localeCompare(b.kind),
  // Connected first when ascending: what a bench user looks for.
  connection: (a, b) => Number(b.connectionState === "Connected") - Number(a.connectionState === "Connected"),
  queue: (a, b) => a.cloudToDeviceMessageCount - b.cloudToDeviceMessageCount,
  activity: (a, b) => (a.lastActivityTime ?? "").localeCompare(b.lastActivityTime ?? ""),
  status: (a, b) => a.status.localeCompare(b.status),
};

/** A sorted copy; ties fall back to the natural id order, so the order is stable under updates. */
export function sortDevices(list: readonly DeviceDto[], key: SortKey, dir: SortDir): DeviceDto[] {
  const sign = dir === "asc" ? 1 : -1;
  return [...list].sort((a, b) => sign * (byKey[key](a, b) || compareIds(a.deviceId, b.deviceId)));
}

/** A fleet: the simulated devices started together (same profile and seed). */
export interface Fleet {
  key: string;
  profile: string;
  ids: string[];
}

/** "lab-… (thermostat, 50)". */
export function fleetLabel(f: Fleet): string {
  let p = f.ids[0] ?? "";
  for (const id of f.ids) while (!id.startsWith(p)) p = p.slice(0, -1);
  return `${p}… (${f.profile}, ${f.ids.length})`;
}

/** The fleets among the running simulated devices, largest first. */
export function fleetsOf(sims: readonly SimStatusDto[]): Fleet[] {
  const groups = new Map<string, Fleet>();
  for (const s of sims) {
    if (s.fleetIndex === null) continue;
    const key = `${s.profile}#${s.seed}`;
    const f = groups.get(key) ?? { key, profile: s.profile, ids: [] };
    f.ids.push(s.deviceId);
    groups.set(key, f);
  }
  return ordered([...groups.values()]);
}

/**
 * The fleets known on this screen: `prev` updated with the running ones.
 * A stopped fleet's devices stay registered, so the fleet stays a unit
 * (to delete it, say) while any of its devices `exists`.
 */
export function mergeFleets(prev: readonly Fleet[], running: readonly Fleet[], exists: (id: string) => boolean): Fleet[] {
  const byKey = new Map(prev.map((f) => [f.key, f]));
  for (const f of running) byKey.set(f.key, { ...f, ids: [...new Set([...(byKey.get(f.key)?.ids ?? []), ...f.ids])] });
  return ordered([...byKey.values()].map((f) => ({ ...f, ids: f.ids.filter(exists) })).filter((f) => f.ids.length > 0));
}

function ordered(fleets: Fleet[]): Fleet[] {
  for (const f of fleets) f.ids.sort(compareIds);
  return fleets.sort((a, b) => b.ids.length - a.ids.length || compareIds(a.key, b.key));
}

export interface DeviceFilter {
  kind: "all" | DeviceDto["kind"];
  connection: "all" | "connected" | "disconnected";
  queued: boolean;
  /** Only this fleet's devices (its key), or null. */
  fleet: string | null;
}

export const NO_FILTER: DeviceFilter = { kind: "all", connection: "all", queued: false, fleet: null };

export function filterDevices(list: readonly DeviceDto[], f: DeviceFilter, fleets: readonly Fleet[]): DeviceDto[] {
  const fleet = f.fleet ? new Set(fleets.find((x) => x.key === f.fleet)?.ids ?? []) : null;
  return list.filter(
    (d) =>
      (f.kind === "all" || d.kind === f.kind) &&
      (f.connection === "all" || (d.connectionState === "Connected") === (f.connection === "connected")) &&
      (!f.queued || d.cloudToDeviceMessageCount > 0) &&
      (!fleet || fleet.has(d.deviceId)),
  );
}

/** What a live event means for the list: patched in place, or which devices to fetch again. */
export interface Applied {
  list: DeviceDto[];
  /** Devices whose row needs the hub's current view (queue depth, status, a new device). */
  refetch: string[];
}

/**
 * Applies `e` to `list`. Connection changes and deletions are patched
 * directly (the flood on a flaky fleet); changes whose exact effect the
 * event does not carry (queue depth, status, a new device) name the
 * device to fetch again. Returns the same list when nothing changed.
 */
export function applyEvent(list: DeviceDto[], e: TraceEventDto): Applied {
  const id = e.deviceId;
  if (!id) return { list, refetch: [] };
  const at = list.findIndex((d) => d.deviceId === id);
  switch (e.kind) {
    case "device.attached":
    case "device.detached": {
      if (at < 0) return { list, refetch: [id] };
      const connected = e.kind === "device.attached";
      const d = list[at];
      const next: DeviceDto = {
        ...d,
        connectionState: connected ? "Connected" : "Disconnected",
        connectionStateUpdatedTime: e.ts,
        transport: connected ? e.detail.via : d.transport,
      };
      return { list: replaced(list, at, next), refetch: [] };
    }
    case "device.deleted":
      return at < 0 ? { list, refetch: [] } : { list: [...list.slice(0, at), ...list.slice(at + 1)], refetch: [] };
    case "device.created":
    case "device.enabled":
    case "device.disabled":
    case "device.updated":
      return { list, refetch: [id] };
    default:
      // Queue depth moves with every C2D step.
      return e.kind.startsWith("c2d.") && at >= 0 ? { list, refetch: [id] } : { list, refetch: [] };
  }
}

/** `list` with `d` in place of the device with its id (or added). */
export function upsert(list: DeviceDto[], d: DeviceDto): DeviceDto[] {
  const at = list.findIndex((x) => x.deviceId === d.deviceId);
  return at < 0 ? [...list, d] : replaced(list, at, d);
}

function replaced(list: DeviceDto[], at: number, d: DeviceDto): DeviceDto[] {
  const copy = [...list];
  copy[at] = d;
  return copy;
}

/** Runs `op` on every id, a few at a time; says which failed and why. */
export async function bulk(
  ids: readonly string[],
  op: (id: string) => Promise<unknown>,
  parallel = 8,
): Promise<{ done: string[]; failed: { id: string; error: string }[] }> {
  const done: string[] = [];
  const failed: { id: string; error: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await op(id);
        done.push(id);
      } catch (e) {
        failed.push({ id, error: e instanceof Error ? e.message : String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ids.length) }, worker));
  return { done, failed };
}

/** "Stopped 48 of 50; 2 failed: a (why), b (why)". */
export function bulkSummary(verb: string, total: number, r: { done: string[]; failed: { id: string; error: string }[] }): string {
  if (!r.failed.length) return `${verb} ${r.done.length} device${r.done.length === 1 ? "" : "s"}`;
  const shown = r.failed.slice(0, 3).map((f) => `${f.id} (${f.error})`);
  const more = r.failed.length > 3 ? `, and ${r.failed.length - 3} more` : "";
  return `${verb} ${r.done.length} of ${total}; ${r.failed.length} failed: ${shown.join(", ")}${more}`;
}
