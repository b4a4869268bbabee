// C2D body modes of the send form. What the user types becomes the API's
// `body` + `bodyEncoding`; each mode says clearly what is wrong with input
// before anything is sent.

export type BodyMode = "text" | "json" | "hex" | "base64";

export const BODY_MODES: { mode: BodyMode; label: string }[] = [
  { mode: "text", label: "Text" },
  { mode: "json", label: "JSON" },
  { mode: "hex", label: "Hex" },
  { mode: "base64", label: "Base64" },
];

export type Encoded =
  | { ok: true; body: string; bodyEncoding: "text" | "hex" | "base64"; bytes: number; contentType?: string }
  | { ok: false; error: string };

const utf8Len = (s: string) => new TextEncoder().encode(s).length;

/** Checks and encodes `input` for `mode`. */
export function encodeBody(mode: BodyMode, input: string): Encoded {
  switch (mode) {
    case "text":
      return { ok: true, body: input, bodyEncoding: "text", bytes: utf8Len(input) };
    case "json": {
      if (input.trim() === "") return { ok: false, error: "JSON body is empty" };
      try {
        JSON.parse(input);
      } catch (e) {
        return { ok: false, error: `not valid JSON: ${jsonErrorMessage(e)}` };
      }
      return { ok: true, body: input, bodyEncoding: "text", bytes: utf8Len(input), contentType: "application/json" };
    }
    case "hex": {
      const cleaned = input.replace(/0x/gi, "").replace(/[\s:,-]/g, "");
      if (!/^[0-9a-fA-F]*$/.test(cleaned)) {
        const bad = cleaned.match(/[^0-9a-fA-F]/)?.[0] ?? "?";
        return { ok: false, error: `'${bad}' is not a hex digit` };
      }
      if (cleaned.length % 2 !== 0) return { ok: false, error: "odd number of hex digits (each byte is two)" };
      return { ok: true, body: cleaned.toLowerCase(), bodyEncoding: "hex", bytes: cleaned.length / 2 };
    }
    case "base64": {
      const cleaned = input.replace(/\s/g, "");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(cleaned) || cleaned.length % 4 !== 0) {
        return { ok: false, error: "not valid base64 (A–Z, a–z, 0–9, + and /, padded with = to a multiple of 4)" };
      }
      const pad = cleaned.endsWith("==") ? 2 : cleaned.endsWith("=") ? 1 : 0;
      return { ok: true, body: cleaned, bodyEncoding: "base64", bytes: (cleaned.length / 4) * 3 - pad };
    }
  }
}

/** A JSON parser error without the engine's prefix noise. */
export function jsonErrorMessage(e: unknown): string {
  return e instanceof Error ? e.message.replace(/^JSON\.parse: /, "") : String(e);
}

/** Pretty JSON when `s` is JSON, else `s` unchanged. */
export function prettyJson(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

/** Bytes as `de ad be ef`. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Decodes base64 to bytes. */
export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Ways to read a message body: as UTF-8 text, a hex dump, or base64. */
export type BodyView = "text" | "hex" | "base64";

export const BODY_VIEWS: { view: BodyView; label: string }[] = [
  { view: "text", label: "Text" },
  { view: "hex", label: "Hex" },
  { view: "base64", label: "Base64" },
];

/** A body as the hub sends it: its bytes as base64, or (when they are
 * UTF-8) as text, or both. */
export interface BodySource {
  text?: string | null;
  base64?: string | null;
}

/** The body's bytes (base64 is exact; text is its UTF-8). */
export function bodyBytes(b: BodySource): Uint8Array {
  if (typeof b.base64 === "string") return fromBase64(b.base64);
  return new TextEncoder().encode(b.text ?? "");
}

/** The view a body opens in: text when it is text, else hex. */
export function defaultView(b: BodySource): BodyView {
  return typeof b.text === "string" ? "text" : "hex";
}

/** Bytes as base64, in lines of 76 characters (MIME's width). */
export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return (btoa(bin).match(/.{1,76}/g) ?? []).join("\n");
}

/**
 * A hex dump, 16 bytes a line: the offset, the bytes in two groups of
 * eight, and the printable ASCII (a dot for anything else).
 */
export function hexDump(bytes: Uint8Array): string {
  const width = Math.max(4, bytes.length.toString(16).length);
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = Array.from({ length: 16 }, (_, i) => (i < row.length ? row[i].toString(16).padStart(2, "0") : "  "));
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(width, "0")}  ${hex.slice(0, 8).join(" ")}  ${hex.slice(8).join(" ")}  |${ascii}|`);
  }
  return lines.join("\n");
}

/** The body as `view` shows it (bytes that are not UTF-8 read as �). */
export function showBody(b: BodySource, view: BodyView): string {
  if (view === "text") return typeof b.text === "string" ? b.text : new TextDecoder().decode(bodyBytes(b));
  const bytes = bodyBytes(b);
  return view === "hex" ? hexDump(bytes) : toBase64(bytes);
}
