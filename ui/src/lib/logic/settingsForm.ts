// Small helpers of the settings form: host aliases edited as free text,
// durations in seconds given a human reading next to the field, and each
// field's range as the hub publishes it (`/api/rules`).

import type { SettingRange } from "../api/generated/SettingRange";

/** "a.local, b.lan\nc" → ["a.local", "b.lan", "c"] (trimmed, no empties, no repeats). */
export function parseAliases(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[\s,;]+/)) {
    const p = part.trim();
    if (p && !out.includes(p)) out.push(p);
  }
  return out;
}

/** 3600 → "1 h", 90 → "1 min 30 s", 604800 → "7 d". */
export function humanSeconds(secs: number): string {
  if (!Number.isFinite(secs) || secs < 0) return "";
  if (secs === 0) return "0 s";
  const units: [number, string][] = [
    [86400, "d"],
    [3600, "h"],
    [60, "min"],
    [1, "s"],
  ];
  const parts: string[] = [];
  let left = Math.floor(secs);
  for (const [size, unit] of units) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)} ${unit}`);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/** A value in a setting's unit, for people: `1 h`, `64 KB`, `50`. */
export function unitValue(v: number, unit: SettingRange["unit"]): string {
  if (unit === "seconds") return v === 0 ? "0 s" : humanSeconds(v);
  if (unit === "bytes" && v >= 1024 && v % 1024 === 0) return v >= 1048576 && v % 1048576 === 0 ? `${v / 1048576} MB` : `${v / 1024} KB`;
  return String(v);
}

/** The hint under a setting: its range and IoT Hub's value, from the hub's rules, and a note. */
export function rangeHint(range: SettingRange | undefined, note?: string): string {
  const parts: string[] = [];
  if (range) {
    parts.push(`${unitValue(range.min, range.unit)}–${unitValue(range.max, range.unit)}`);
    if (range.iotHub !== null) parts.push(`IoT Hub: ${unitValue(range.iotHub, range.unit)}`);
  }
  if (note) parts.push(note);
  return parts.join("; ");
}
