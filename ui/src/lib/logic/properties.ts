// C2D application properties as the send form edits them: rows of name and
// value. Which names and values IoT Hub allows is the hub's rule: it checks
// them when the message is sent and names the property at fault. The form
// only says what cannot become a property map at all (a value with no
// name, a name given twice).

export interface PropertyRow {
  name: string;
  value: string;
}

/** The problem with one row, or null. Empty rows are ignored. */
export function propertyError(row: PropertyRow, all: PropertyRow[] = []): string | null {
  const name = row.name.trim();
  if (name === "" && row.value === "") return null;
  if (name === "") return "the property needs a name";
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
