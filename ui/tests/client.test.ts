// The API client's two promises to the user: a hub that does not answer is
// said in words, and the token never rides in a file's URL.
import { afterEach, describe, expect, it, vi } from "vitest";
import { HubClient, HubError } from "../src/lib/api/client";

const client = new HubClient({ base: "http://hub", token: "secret" });

afterEach(() => vi.unstubAllGlobals());

describe("HubClient", () => {
  it("turns a fetch that never reached the hub into plain words, not 'TypeError: Failed to fetch'", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    for (const call of [() => client.get("/api/devices"), () => client.file("/api/ca")]) {
      const e = await call().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(HubError);
      const he = e as HubError;
      expect(he.label).toBe("The hub is not answering");
      expect(`${he.label} ${he.message} ${he.explanation}`).not.toMatch(/TypeError|Failed to fetch|^0 /);
    }
  });

  it("fetches files with the token in the Authorization header, not the URL", async () => {
    const seen: { url: string; auth: string | null }[] = [];
    vi.stubGlobal("fetch", (url: string, init: RequestInit) => {
      seen.push({ url, auth: new Headers(init.headers).get("authorization") });
      return Promise.resolve(new Response("a,b\n", { status: 200 }));
    });
    expect(await client.file("/api/trace/export", { format: "csv" })).toBe("a,b\n");
    expect(seen).toEqual([{ url: "http://hub/api/trace/export?format=csv", auth: "Bearer secret" }]);
  });

  it("reads the hub's error envelope when a file is refused", async () => {
    const body = JSON.stringify({ error: { code: 400004, name: "ArgumentInvalid", message: "format 'x' is not jsonl or csv", explanation: "" } });
    vi.stubGlobal("fetch", () => Promise.resolve(new Response(body, { status: 400 })));
    const e = (await client.file("/api/trace/export", { format: "x" }).catch((x: unknown) => x)) as HubError;
    expect(e.label).toBe("400004 ArgumentInvalid");
  });
});
