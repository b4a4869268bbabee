// The direct-method form's checks: the payload is JSON (empty means null),
// and the timeouts are within the ranges the hub publishes (`/api/rules`),
// checked before the call so the form says what is wrong instead of sending
// a request that must fail. The hub checks them again either way.

import type { RulesDto } from "../api/generated/RulesDto";
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

const LABELS = { connect: "Connect timeout", response: "Response timeout" } as const;

/**
 * What is wrong with a timeout in seconds, or null. Without the hub's
 * rules (not loaded yet) only the number itself is checked.
 */
export function timeoutError(which: keyof typeof LABELS, value: number | string | null | undefined, rules: RulesDto | null): string | null {
  const label = LABELS[which];
  const n = typeof value === "number" ? value : value === null || value === undefined || String(value).trim() === "" ? NaN : Number(value);
  if (!Number.isInteger(n)) return `${label} must be a whole number of seconds`;
  const r = rules ? (which === "connect" ? rules.connectTimeoutSecs : rules.responseTimeoutSecs) : null;
  if (r && (n < r.min || n > r.max)) return `${label} must be ${r.min} to ${r.max} s`;
  return null;
}

/** The tone of a method status: 2xx ok, 4xx warn, anything else bad. */
export function statusTone(status: number): "ok" | "warn" | "bad" {
  if (status >= 200 && status < 300) return "ok";
  if (status >= 400 && status < 500) return "warn";
  return "bad";
}
