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
