// The direct-method form's rules: the payload is JSON (empty means null),
// and the timeouts are IoT Hub's ranges, checked before the call so the
// form says what is wrong instead of sending a request that must fail.

import type { JsonValue } from "../api/generated/serde_json/JsonValue";
import { jsonErrorMessage } from "./payload";

export type Parsed = { ok: true; value: JsonValue } | { ok: false; error: string };

/** Parses the payload editor's text; an empty editor sends null. */
export function parseMethodPayload(text: string): Parsed {
  if (text.trim() === "") return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (e) {
    return { ok: false, error: `not valid JSON: ${jsonErrorMessage(e)}` };
  }
}

export const TIMEOUT_RANGES = {
  connect: { min: 0, max: 300, label: "Connect timeout" },
  response: { min: 5, max: 300, label: "Response timeout" },
} as const;

/** What is wrong with a timeout in seconds, or null. */
export function timeoutError(which: keyof typeof TIMEOUT_RANGES, value: number | string | null | undefined): string | null {
  const r = TIMEOUT_RANGES[which];
  const n = typeof value === "number" ? value : value === null || value === undefined || String(value).trim() === "" ? NaN : Number(value);
  if (!Number.isInteger(n)) return `${r.label} must be a whole number of seconds`;
  if (n < r.min || n > r.max) return `${r.label} must be ${r.min} to ${r.max} s`;
  return null;
}

/** The tone of a method status: 2xx ok, 4xx warn, anything else bad. */
export function statusTone(status: number): "ok" | "warn" | "bad" {
  if (status >= 200 && status < 300) return "ok";
  if (status >= 400 && status < 500) return "warn";
  return "bad";
}
