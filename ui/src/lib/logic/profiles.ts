// Simulator profile TOML as the editor handles it: the hub requires the
// top-level `name` to equal the name it is saved under, so "save as"
// rewrites that one line and leaves the rest of the text as the user wrote it.

const NAME_LINE = /^(\s*name\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(.*)$/;

/** Letters, digits, `-` and `_` (the hub's rule for profile names). */
export function profileNameError(name: string): string | null {
  if (name === "") return "give the profile a name";
  if (!/^[A-Za-z0-9_-]+$/.test(name)) return "use letters, digits, - and _ only";
  return null;
}

/** Index of the first line that opens a table (`[c2d]`), or the line count. */
function firstTable(lines: string[]): number {
  const i = lines.findIndex((l) => /^\s*\[/.test(l));
  return i === -1 ? lines.length : i;
}

/** The top-level `name` of a profile, or null. */
export function profileName(toml: string): string | null {
  const lines = toml.split("\n");
  for (const l of lines.slice(0, firstTable(lines))) {
    const m = l.match(NAME_LINE);
    if (m) return m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2].slice(1, -1);
  }
  return null;
}

/** The TOML with its top-level `name` set to `name` (added first if missing). */
export function withProfileName(toml: string, name: string): string {
  const lines = toml.split("\n");
  const end = firstTable(lines);
  const quoted = JSON.stringify(name);
  for (let i = 0; i < end; i++) {
    const m = lines[i].match(NAME_LINE);
    if (m) {
      lines[i] = `${m[1]}${quoted}${m[3]}`;
      return lines.join("\n");
    }
  }
  // Before any table, after the leading comments.
  let at = 0;
  while (at < end && /^\s*(#.*)?$/.test(lines[at])) at++;
  lines.splice(at, 0, `name = ${quoted}`);
  return lines.join("\n");
}
