// Small helpers of the settings form: host aliases edited as free text, and
// durations in seconds given a human reading next to the field.

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

/** The field a hub validation message is about ("queueCap is 0; …" → "queueCap"), or null. */
export function fieldOfError(message: string, keys: readonly string[]): string | null {
  const first = message.trim().split(/\s/, 1)[0] ?? "";
  return keys.includes(first) ? first : null;
}
