// Direct-method calls: the history of calls made from this UI (re-run,
// edit and re-run) and saved commands, reusable on any device. Kept in the
// browser's storage: they are the user's, not the hub's.

export interface MethodCommand {
  methodName: string;
  payload: string;
  connectTimeout: number;
  responseTimeout: number;
}

export interface SavedCommand extends MethodCommand {
  name: string;
}

export interface HistoryEntry extends MethodCommand {
  deviceId: string;
  at: string;
  status: number | null;
  /** IoT Hub error code when the call failed. */
  errorCode: number | null;
  latencyMs: number | null;
  result: string;
}

const SAVED = "hublet.savedCommands";
const HISTORY = "hublet.methodHistory";
const HISTORY_MAX = 100;

function read<T>(s: Storage, key: string): T[] {
  try {
    const v = JSON.parse(s.getItem(key) ?? "[]");
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

export function savedCommands(s: Storage = localStorage): SavedCommand[] {
  return read<SavedCommand>(s, SAVED);
}

/** Saves (or replaces, by name) a command. */
export function saveCommand(c: SavedCommand, s: Storage = localStorage): SavedCommand[] {
  const all = savedCommands(s).filter((x) => x.name !== c.name);
  all.push(c);
  all.sort((a, b) => a.name.localeCompare(b.name));
  s.setItem(SAVED, JSON.stringify(all));
  return all;
}

export function deleteCommand(name: string, s: Storage = localStorage): SavedCommand[] {
  const all = savedCommands(s).filter((x) => x.name !== name);
  s.setItem(SAVED, JSON.stringify(all));
  return all;
}

export function history(deviceId: string | null, s: Storage = localStorage): HistoryEntry[] {
  const all = read<HistoryEntry>(s, HISTORY);
  return deviceId === null ? all : all.filter((h) => h.deviceId === deviceId);
}

/** Records a call, newest first, keeping the last 100. */
export function remember(h: HistoryEntry, s: Storage = localStorage): HistoryEntry[] {
  const all = [h, ...read<HistoryEntry>(s, HISTORY)].slice(0, HISTORY_MAX);
  s.setItem(HISTORY, JSON.stringify(all));
  return all;
}
