// A serial board's console: lines from `GET …/console` and live trace
// events (`serial.line`, `serial.sent`, `serial.port`) as one list of
// entries, the text a line shows, its bytes in hex, and what the send box
// turns into (`SerialSendRequest`).

import type { ConsoleLine } from "../api/generated/ConsoleLine";
import type { SerialSendRequest } from "../api/generated/SerialSendRequest";
import type { TraceEventDto } from "../api/generated/TraceEventDto";
import { toHex } from "./payload";

export interface ConsoleEntry {
  /** Identifies the line across the console snapshot and the live stream. */
  key: string;
  at: string;
  /** `in` from the board, `out` to it, `port` a port event. */
  direction: "in" | "out" | "port";
  text: string | null;
  hex: string | null;
  frame: boolean;
  partial: boolean;
  warning: string | null;
}

const keyOf = (at: string, direction: string, text: string | null, hex: string | null) => `${at}|${direction}|${text ?? hex ?? ""}`;

export function fromConsoleLine(l: ConsoleLine): ConsoleEntry {
  const direction = l.direction === "out" ? "out" : "in";
  return { key: keyOf(l.at, direction, l.text, l.hex), at: l.at, direction, text: l.text, hex: l.hex, frame: l.frame, partial: false, warning: null };
}

const s = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** A serial trace event as an entry; null for other kinds. */
export function fromTraceEvent(e: TraceEventDto): ConsoleEntry | null {
  const d = (e.detail && typeof e.detail === "object" && !Array.isArray(e.detail) ? e.detail : {}) as Record<string, unknown>;
  switch (e.kind) {
    case "serial.line":
    case "serial.sent": {
      const direction = e.kind === "serial.line" ? "in" : "out";
      const at = s(d.receivedAt) ?? s(d.sentAt) ?? e.ts;
      const text = s(d.text);
      const hex = s(d.hex);
      return { key: keyOf(at, direction, text, hex), at, direction, text, hex, frame: d.frame === true, partial: d.partial === true, warning: s(d.warning) };
    }
    case "serial.port": {
      const words = [`board ${s(d.event) ?? "?"}`, s(d.path)].filter(Boolean).join(" ");
      const err = s(d.error);
      const text = err ? `${words}: ${err}` : words;
      return { key: `port|${e.id}`, at: e.ts, direction: "port", text, hex: null, frame: false, partial: false, warning: null };
    }
    default:
      return null;
  }
}

/** Appends entries not already present (the snapshot and the stream overlap), keeping the last `max`. */
export function appendEntries(current: ConsoleEntry[], incoming: ConsoleEntry[], max = 5000): ConsoleEntry[] {
  const seen = new Set(current.map((e) => e.key));
  const fresh = incoming.filter((e) => {
    if (seen.has(e.key)) return false;
    seen.add(e.key);
    return true;
  });
  if (fresh.length === 0) return current;
  const all = [...current, ...fresh];
  return all.length > max ? all.slice(all.length - max) : all;
}

/** A control character as its visible symbol (␍, ␛, ␀…); tab stays a tab. */
function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (code === 0x7f) return "␡";
  if (code < 0x20 && c !== "\t") return String.fromCharCode(0x2400 + code);
  return c;
}

/** The line as shown: without its line ending, control characters made visible. */
export function displayText(e: ConsoleEntry): string {
  if (e.text === null) return e.hex ? `[hex] ${e.hex}` : "";
  return Array.from(e.text.replace(/[\r\n]+$/, ""), visible).join("");
}

/** Every byte of the line as hex pairs. */
export function entryHex(e: ConsoleEntry): string {
  if (e.hex !== null) return e.hex;
  return toHex(new TextEncoder().encode(e.text ?? ""));
}

export type SendMode = "text" | "hex" | "escaped";

/** The send box's input as the API's request (exactly one field set). */
export function serialSendRequest(mode: SendMode, input: string): SerialSendRequest {
  return {
    text: mode === "text" ? input : null,
    hex: mode === "hex" ? input : null,
    escaped: mode === "escaped" ? input : null,
  };
}

/** A USB vendor or product id as four hex digits (`0403`). */
export function usbId(n: number | null | undefined): string {
  return n === null || n === undefined ? "" : n.toString(16).padStart(4, "0");
}
