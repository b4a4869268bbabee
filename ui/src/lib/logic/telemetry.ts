// Numeric fields of a device's telemetry, for the chart: each JSON body is
// flattened (`sensors.temp`), and every field that is a number becomes a
// series over time.

export interface TelemetryPoint {
  /** Milliseconds since the epoch. */
  t: number;
  body: string;
}

/** `{a: {b: 1}, c: [2]}` → `{"a.b": 1, "c.0": 2}`, numbers only. */
export function numericFields(value: unknown, prefix = "", out: Record<string, number> = {}): Record<string, number> {
  if (typeof value === "number" && Number.isFinite(value)) {
    out[prefix || "value"] = value;
  } else if (typeof value === "boolean") {
    out[prefix || "value"] = value ? 1 : 0;
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => numericFields(v, prefix ? `${prefix}.${i}` : String(i), out));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) numericFields(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

export interface Series {
  /** Times, seconds since the epoch (uPlot's x axis). */
  x: number[];
  /** Field name → values aligned with `x` (null where a body lacked it). */
  fields: Map<string, (number | null)[]>;
}

/** Builds aligned series from telemetry bodies (non-JSON bodies are skipped). */
export function buildSeries(points: TelemetryPoint[], maxFields = 8): Series {
  const rows: { t: number; f: Record<string, number> }[] = [];
  for (const p of [...points].sort((a, b) => a.t - b.t)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(p.body);
    } catch {
      continue;
    }
    const f = numericFields(parsed);
    if (Object.keys(f).length) rows.push({ t: p.t, f });
  }
  const names: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.f)) if (!names.includes(k) && names.length < maxFields) names.push(k);
  const fields = new Map<string, (number | null)[]>();
  for (const n of names) fields.set(n, rows.map((r) => (n in r.f ? r.f[n] : null)));
  return { x: rows.map((r) => r.t / 1000), fields };
}
