// C2D application properties as the send form edits them: rows of name and
// value. The rules are IoT Hub's (semantics reference 1.6), the same the hub
// enforces (crates/hublet-core/src/mailbox/message.rs); checking here only
// lets the form say what is wrong before sending.

export interface PropertyRow {
  name: string;
  value: string;
}

const SPECIALS = "!#$%&'*+-.^_`|~";

function badChar(s: string): string | null {
  for (const c of s) {
    const ok = /[A-Za-z0-9]/.test(c) || SPECIALS.includes(c);
    if (!ok) return c;
  }
  return null;
}

/** The problem with one row, or null. Empty rows are ignored. */
export function propertyError(row: PropertyRow, all: PropertyRow[] = []): string | null {
  const name = row.name.trim();
  if (name === "" && row.value === "") return null;
  if (name === "") return "the property needs a name";
  const lower = name.toLowerCase();
  if (lower.startsWith("iothub-") || lower.startsWith("$.")) {
    return `'${name}' uses a reserved prefix (iothub- or $.); use the system property fields instead`;
  }
  const inName = badChar(name);
  if (inName !== null) return `'${inName === " " ? "space" : inName}' is not allowed in a property name (letters, digits and ${SPECIALS})`;
  const inValue = badChar(row.value);
  if (inValue !== null) return `'${inValue === " " ? "space" : inValue}' is not allowed in a property value (letters, digits and ${SPECIALS})`;
  if (all.filter((r) => r.name.trim() === name).length > 1) return `'${name}' is given twice`;
  return null;
}

/** Rows as the API's map, or the first error. */
export function propertiesToMap(rows: PropertyRow[]): { ok: true; map: Record<string, string> } | { ok: false; error: string } {
  const map: Record<string, string> = {};
  for (const r of rows) {
    const e = propertyError(r, rows);
    if (e) return { ok: false, error: e };
    if (r.name.trim() !== "") map[r.name.trim()] = r.value;
  }
  return { ok: true, map };
}
