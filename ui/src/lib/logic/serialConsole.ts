// A serial board's console: its trace events (`serial.line`,
// `serial.sent`, `serial.port`), the recent ones from a query and the new
// ones from the live stream, as one list of entries keyed by event id (two
// identical lines in the same millisecond stay two lines); the text a line
// shows, its bytes in hex, and what the send box turns into
// (`SerialSendRequest`).

import type { SerialSendRequest } from "../api/generated/SerialSendRequest";
import type { TraceEventDto } from "../api/generated/TraceEventDto";
import { toHex } from "./payload";
import { describe } from "./story";

export interface ConsoleEntry {
  /** The trace event's id: identifies the line across the query and the live stream. */
  key: number;
  at: string;
  /** `in` from the board, `out` to it, `port` a port event. */
  direction: "in" | "out" | "port";
  text: string | null;
  hex: string | null;
  frame: boolean;
  partial: boolean;
  warning: string | null;
}

/** A serial trace event as an entry; null for other kinds. */
export function fromTraceEvent(e: TraceEventDto): ConsoleEntry | null {
  switch (e.kind) {
    case "serial.line": {
      const d = e.detail;
      return { key: e.id, at: d.receivedAt, direction: "in", text: d.text, hex: d.hex, frame: d.frame, partial: d.partial, warning: d.warning };
    }
    case "serial.sent": {
      const d = e.detail;
      return { key: e.id, at: d.sentAt, direction: "out", text: d.text, hex: d.hex, frame: d.frame, partial: false, warning: null };
    }
    case "serial.port": {
      const words = [describe(e).label, e.detail.path].filter(Boolean).join(" ");
      const err = e.detail.error;
      const text = err ? `${words}: ${err}` : words;
      return { key: e.id, at: e.ts, direction: "port", text, hex: null, frame: false, partial: false, warning: null };
    }
    default:
      return null;
  }
}

/**
 * Merges entries not already present (the query and the stream overlap) in
 * trace order, keeping the last `max`.
 */
export function appendEntries(current: ConsoleEntry[], incoming: ConsoleEntry[], max = 5000): ConsoleEntry[] {
  const seen = new Set(current.map((e) => e.key));
  const fresh = incoming.filter((e) => {
    if (seen.has(e.key)) return false;
    seen.add(e.key);
    return true;
  });
  if (fresh.length === 0) return current;
  const all = [...current, ...fresh].sort((a, b) => a.key - b.key);
  return all.length > max ? all.slice(all.length - max) : all;
}

/** A control character as its visible symbol (␍, ␛, ␀…); tab stays a tab. */
function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (code === 0x7f) return "␡";
  if (code < 0x20 && c !== "\t") return String.fromCharCode(0x2400 + code);
  return c;
}

/**
 * The line as shown: without its line ending, control characters made
 * visible. Bytes that are not UTF-8 already read `\xNN` in the text (the
 * hub escapes them); a line from an older hub with only hex shows the hex.
 */
export function displayText(e: ConsoleEntry): string {
  if (e.text === null) return e.hex ? `[hex] ${e.hex}` : "";
  return Array.from(e.text.replace(/[\r\n]+$/, ""), visible).join("");
}

/** Every byte of the line as hex pairs (the raw bytes when the line was not UTF-8). */
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
