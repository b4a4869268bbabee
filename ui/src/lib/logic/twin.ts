// A device twin as the hub answers it (IoT Hub's JSON form), and the pure
// helpers the Twin tab uses: a section's own keys, when a key last changed,
// and the merge patch that turns one desired document into another.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** `properties.desired` or `properties.reported`, with IoT Hub's read-only members. */
export interface TwinSection extends JsonObject {
  $version: number;
  $metadata: JsonObject;
}

export interface TwinDoc {
  deviceId: string;
  etag: string;
  version: number;
  modelId: string;
  connectionState: string;
  tags?: JsonObject;
  properties: { desired: TwinSection; reported: TwinSection };
}

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The section's own keys, without `$metadata` and `$version`. */
export function ownKeys(section: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(section)) if (!k.startsWith("$")) out[k] = v;
  return out;
}

/** When a top-level key last changed (`$metadata.<key>.$lastUpdated`), if known. */
export function lastUpdated(section: TwinSection, key: string): string | null {
  const m = section.$metadata?.[key];
  return isObject(m) && typeof m.$lastUpdated === "string" ? m.$lastUpdated : null;
}

function same(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The merge patch (IoT Hub's PATCH rules: members replace, objects merge,
 * `null` removes) that turns `from` into `to`; `{}` when they are equal.
 */
export function mergePatch(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const old = from[k];
    if (old !== undefined && same(old, v)) continue;
    patch[k] = isObject(old) && isObject(v) ? mergePatch(old, v) : v;
  }
  return patch;
}

/** Parses the editor's text as a JSON object, or says why it is not one. */
export function parseObject(text: string): { ok: true; value: JsonObject } | { ok: false; error: string } {
  let v: Json;
  try {
    v = JSON.parse(text) as Json;
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  if (!isObject(v)) return { ok: false, error: "desired properties must be a JSON object" };
  return { ok: true, value: v };
}
