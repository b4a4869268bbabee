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
  seed: number;
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
    const f = groups.get(key) ?? { key, profile: s.profile, seed: s.seed, ids: [] };
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
  /** Part of the id, any case. */
  text: string;
  kind: "all" | DeviceDto["kind"];
  connection: "all" | "connected" | "disconnected";
  queued: boolean;
  /** Only this fleet's devices (its key), or null. */
  fleet: string | null;
}

export const NO_FILTER: DeviceFilter = { text: "", kind: "all", connection: "all", queued: false, fleet: null };

export function filterDevices(list: readonly DeviceDto[], f: DeviceFilter, fleets: readonly Fleet[]): DeviceDto[] {
  const fleet = f.fleet ? new Set(fleets.find((x) => x.key === f.fleet)?.ids ?? []) : null;
  const text = f.text.trim().toLowerCase();
  return list.filter(
    (d) =>
      (!text || d.deviceId.toLowerCase().includes(text)) &&
      (f.kind === "all" || d.kind === f.kind) &&
      (f.connection === "all" || (d.connectionState === "Connected") === (f.connection === "connected")) &&
      (!f.queued || d.cloudToDeviceMessageCount > 0) &&
      (!fleet || fleet.has(d.deviceId)),
  );
}

// The queue counts Enqueued and locked messages; a message leaves it by
// exactly one of these (a reject or an expiry is followed by its dead-lettering).
const QUEUE_DELTA: Partial<Record<TraceEventDto["kind"], number>> = {
  "c2d.enqueued": 1,
  "c2d.completed": -1,
  "c2d.dead_lettered": -1,
  "c2d.purged": -1,
};

// What the device itself did: the hub counts each as its last activity.
const ACTIVITY = new Set<TraceEventDto["kind"]>([
  "device.attached",
  "telemetry.received",
  "c2d.delivered",
  "c2d.completed",
  "c2d.abandoned",
  "c2d.rejected",
  "method.responded",
]);

/** Whether `e` can change a row (the rest of the trace is not looked at). */
export function concernsDevices(e: TraceEventDto): boolean {
  return e.deviceId !== undefined && (e.kind.startsWith("device.") || QUEUE_DELTA[e.kind] !== undefined || ACTIVITY.has(e.kind));
}

/** What a batch of live events did to the list. */
export interface Applied {
  list: DeviceDto[];
  /** Devices created that the list lacks: only the hub has their row. */
  unknown: string[];
}

/**
 * Applies a batch of live events to `list`, rows patched in place:
 * connection, status, queue depth, last activity, deletion. Only changed
 * rows are new objects; `list` is untouched. `queueDeltas: false` when the
 * list is a snapshot that may already count the batch's messages.
 */
export function applyEvents(list: readonly DeviceDto[], events: readonly TraceEventDto[], queueDeltas = true): Applied {
  const index = new Map(list.map((d, i) => [d.deviceId, i]));
  const out = [...list];
  const copied = new Set<number>();
  const removed = new Set<number>();
  const unknown = new Set<string>();
  for (const e of events) {
    const id = e.deviceId;
    if (id === undefined) continue;
    const i = index.get(id);
    if (e.kind === "device.created") {
      // Unknown, or deleted and created again (new keys, new etag).
      if (i === undefined || removed.has(i) || out[i].generationId !== e.detail.generationId) unknown.add(id);
      continue;
    }
    // Events of a module (`dev/mod`) or of a device not listed change no row.
    if (i === undefined || removed.has(i)) continue;
    if (e.kind === "device.deleted") {
      // A late event of an earlier generation leaves the new device alone.
      if (out[i].generationId === e.detail.generationId) removed.add(i);
      continue;
    }
    if (!copied.has(i)) {
      out[i] = { ...out[i] };
      copied.add(i);
    }
    const d = out[i];
    switch (e.kind) {
      case "device.attached":
        d.connectionState = "Connected";
        d.connectionStateUpdatedTime = e.ts;
        d.transport = e.detail.via;
        break;
      case "device.detached":
        d.connectionState = "Disconnected";
        d.connectionStateUpdatedTime = e.ts;
        d.transport = null;
        break;
      case "device.enabled":
      case "device.disabled":
      case "device.updated":
        if (d.status !== e.detail.status) d.statusUpdatedTime = e.ts;
        d.status = e.detail.status;
        d.statusReason = e.detail.statusReason;
        d.etag = e.detail.etag;
        break;
    }
    if (queueDeltas) d.cloudToDeviceMessageCount = Math.max(0, d.cloudToDeviceMessageCount + (QUEUE_DELTA[e.kind] ?? 0));
    if (ACTIVITY.has(e.kind) && (d.lastActivityTime ?? "") < e.ts) d.lastActivityTime = e.ts;
  }
  return { list: removed.size ? out.filter((_, i) => !removed.has(i)) : out, unknown: [...unknown] };
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
