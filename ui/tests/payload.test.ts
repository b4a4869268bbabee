import { describe, expect, it } from "vitest";
import { bodyBytes, defaultView, encodeBody, fromBase64, hexDump, jsonErrorMessage, prettyJson, showBody, toBase64, toHex } from "../src/lib/logic/payload";

describe("encodeBody: text", () => {
  it("sends the text as is and counts UTF-8 bytes, not characters", () => {
    expect(encodeBody("text", "on")).toEqual({ ok: true, body: "on", bodyEncoding: "text", bytes: 2 });
    const r = encodeBody("text", "é€");
    expect(r).toMatchObject({ ok: true, body: "é€", bytes: 5 });
  });

  it("accepts an empty body", () => {
    expect(encodeBody("text", "")).toEqual({ ok: true, body: "", bodyEncoding: "text", bytes: 0 });
  });
});

describe("encodeBody: json", () => {
  it("keeps the text the user wrote and proposes application/json", () => {
    const input = '{ "on": true }';
    expect(encodeBody("json", input)).toEqual({
      ok: true,
      body: input,
      bodyEncoding: "text",
      bytes: 14,
      contentType: "application/json",
    });
  });

  it("accepts any JSON value, not only objects", () => {
    expect(encodeBody("json", "42")).toMatchObject({ ok: true, bytes: 2 });
    expect(encodeBody("json", '"x"')).toMatchObject({ ok: true, bytes: 3 });
  });

  it("refuses an empty body", () => {
    expect(encodeBody("json", "   ")).toEqual({ ok: false, error: "JSON body is empty" });
  });

  it("says why the JSON is invalid", () => {
    const r = encodeBody("json", '{"on": tru}');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/^not valid JSON: /);
      expect(r.error.length).toBeGreaterThan("not valid JSON: ".length);
    }
  });
});

describe("encodeBody: hex", () => {
  it("accepts spaces, colons, commas, dashes and 0x prefixes, and lower-cases", () => {
    expect(encodeBody("hex", "DE ad:BE-ef")).toEqual({ ok: true, body: "deadbeef", bodyEncoding: "hex", bytes: 4 });
    expect(encodeBody("hex", "0x01, 0x02")).toEqual({ ok: true, body: "0102", bodyEncoding: "hex", bytes: 2 });
  });

  it("names the first character that is not a hex digit", () => {
    expect(encodeBody("hex", "0g")).toEqual({ ok: false, error: "'g' is not a hex digit" });
  });

  it("refuses an odd number of digits", () => {
    expect(encodeBody("hex", "abc")).toEqual({ ok: false, error: "odd number of hex digits (each byte is two)" });
  });

  it("gives zero bytes for empty input", () => {
    expect(encodeBody("hex", "")).toMatchObject({ ok: true, body: "", bytes: 0 });
  });
});

describe("encodeBody: base64", () => {
  it("counts decoded bytes with and without padding", () => {
    expect(encodeBody("base64", "aGk=")).toEqual({ ok: true, body: "aGk=", bodyEncoding: "base64", bytes: 2 });
    expect(encodeBody("base64", "aA==")).toMatchObject({ ok: true, bytes: 1 });
    expect(encodeBody("base64", "aGV5")).toMatchObject({ ok: true, bytes: 3 });
  });

  it("ignores whitespace and line breaks", () => {
    expect(encodeBody("base64", "aGVs\nbG8=")).toMatchObject({ ok: true, body: "aGVsbG8=", bytes: 5 });
  });

  it("refuses bad characters and a length that is not a multiple of 4", () => {
    expect(encodeBody("base64", "aGk")).toMatchObject({ ok: false });
    expect(encodeBody("base64", "a$k=")).toMatchObject({ ok: false });
    expect(encodeBody("base64", "a=Gk")).toMatchObject({ ok: false });
  });
});

describe("helpers", () => {
  it("pretty-prints JSON and leaves other text alone", () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson("not json")).toBe("not json");
  });

  it("writes bytes as spaced hex pairs", () => {
    expect(toHex(new Uint8Array([0xde, 0xad, 0x00, 0x0f]))).toBe("de ad 00 0f");
    expect(toHex(new Uint8Array([]))).toBe("");
  });

  it("decodes base64 to bytes", () => {
    expect(Array.from(fromBase64("3q2+7w=="))).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it("strips the engine prefix from JSON errors", () => {
    expect(jsonErrorMessage(new SyntaxError("JSON.parse: unexpected character"))).toBe("unexpected character");
    expect(jsonErrorMessage("plain")).toBe("plain");
  });
});

describe("body views", () => {
  const binary = { base64: "3q2+7wABAg==" }; // de ad be ef 00 01 02

  it("opens text as text and anything else as hex", () => {
    expect(defaultView({ text: "hi", base64: "aGk=" })).toBe("text");
    expect(defaultView(binary)).toBe("hex");
  });

  it("reads the exact bytes from base64, and text as UTF-8", () => {
    expect(Array.from(bodyBytes(binary))).toEqual([0xde, 0xad, 0xbe, 0xef, 0, 1, 2]);
    expect(Array.from(bodyBytes({ text: "é" }))).toEqual([0xc3, 0xa9]);
  });

  it("dumps hex 16 bytes a line with offsets and the printable ASCII", () => {
    const bytes = new TextEncoder().encode("Hello, hex dump!\n\u0001");
    expect(hexDump(bytes)).toBe(
      ["0000  48 65 6c 6c 6f 2c 20 68  65 78 20 64 75 6d 70 21  |Hello, hex dump!|", "0010  0a 01                                             |..|"].join("\n"),
    );
    expect(hexDump(new Uint8Array())).toBe("");
  });

  it("writes base64 in lines of 76", () => {
    expect(toBase64(new Uint8Array([0xde, 0xad, 0xbe, 0xef]))).toBe("3q2+7w==");
    const long = toBase64(new Uint8Array(100)).split("\n");
    expect(long.map((l) => l.length)).toEqual([76, 60]);
  });

  it("shows one body in every view", () => {
    const text = { text: "hi", base64: "aGk=" };
    expect(showBody(text, "text")).toBe("hi");
    expect(showBody(text, "hex")).toBe("0000  68 69                                             |hi|");
    expect(showBody(text, "base64")).toBe("aGk=");
    // Bytes that are not UTF-8 still read as text, with replacement marks.
    expect(showBody({ base64: "//4AAQ==" }, "text")).toBe("\ufffd\ufffd\u0000\u0001");
  });
});
