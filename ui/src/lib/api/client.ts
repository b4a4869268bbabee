// The UI's one way to the hub: its REST API and live event stream. The same
// code runs in the desktop app (the shell injects the address and token)
// and in a browser against `hublet serve --ui` (same origin; the token
// comes from the link `hublet serve` prints, or is typed once).

import type { ApiErrorEnvelope } from "./generated/ApiErrorEnvelope";
import type { ErrorInfo } from "./generated/ErrorInfo";

/** Where the hub is and how to authenticate. */
export interface HubConnection {
  /** Base URL of the API, without a trailing slash ("" = same origin). */
  base: string;
  /** The hub's bearer token. */
  token: string;
}

declare global {
  interface Window {
    /** Set by the desktop shell before the UI loads. */
    __HUBLET__?: { api: string; token: string };
  }
}

const TOKEN_KEY = "hublet.token";

/** Finds the hub: the desktop shell's, else this page's origin. */
export function discoverConnection(loc: Location = window.location, storage: Storage = window.localStorage): HubConnection | null {
  const injected = window.__HUBLET__;
  if (injected) return { base: injected.api.replace(/\/$/, ""), token: injected.token };
  const params = new URLSearchParams(loc.search);
  const fromUrl = params.get("token");
  if (fromUrl) {
    storage.setItem(TOKEN_KEY, fromUrl);
    // Keep the token out of the address bar and history.
    params.delete("token");
    const rest = params.toString();
    window.history.replaceState(null, "", loc.pathname + (rest ? `?${rest}` : "") + loc.hash);
    return { base: "", token: fromUrl };
  }
  const saved = storage.getItem(TOKEN_KEY);
  return saved ? { base: "", token: saved } : null;
}

export function saveToken(token: string, storage: Storage = window.localStorage): void {
  storage.setItem(TOKEN_KEY, token);
}

export function forgetToken(storage: Storage = window.localStorage): void {
  storage.removeItem(TOKEN_KEY);
}

/** An error from the hub, with IoT Hub's code where there is one. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | null,
    readonly errorName: string,
    message: string,
    readonly explanation: string,
    /** A failed method call's request id: its story in the trace. */
    readonly requestId: string | null = null,
    /** Structured detail: the request field at fault, a timeout. */
    readonly info: ErrorInfo = {},
  ) {
    super(message);
    this.name = "HubError";
  }

  /** The request field the error is about, when the hub names one. */
  get field(): string | null {
    return this.info.field ?? null;
  }

  /** "404103 DeviceNotOnline" or the HTTP status. */
  get label(): string {
    return this.code !== null ? `${this.code} ${this.errorName}` : `${this.status} ${this.errorName}`;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

function queryString(q?: Query): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** Percent-encodes one path segment (device ids may hold `#`, `?`, `%`). */
export const seg = (s: string): string => encodeURIComponent(s);

export class HubClient {
  constructor(readonly conn: HubConnection) {}

  url(path: string, q?: Query): string {
    return `${this.conn.base}${path}${queryString(q)}`;
  }

  /** A URL that carries the token itself (EventSource, downloads). */
  authedUrl(path: string, q?: Query): string {
    return this.url(path, { ...q, access_token: this.conn.token });
  }

  async request<T>(method: string, path: string, body?: unknown, q?: Query, extra: Record<string, string> = {}): Promise<T> {
    let resp: Response;
    try {
      resp = await fetch(this.url(path, q), {
        method,
        headers: {
          authorization: `Bearer ${this.conn.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...extra,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new HubError(0, null, "Unreachable", `cannot reach the hub: ${String(e)}`, "The hub is not running or the network is down.");
    }
    if (resp.status === 204) return undefined as T;
    const text = await resp.text();
    if (!resp.ok) throw toHubError(resp.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, q?: Query): Promise<T> {
    return this.request<T>("GET", path, undefined, q);
  }
  post<T>(path: string, body?: unknown, q?: Query): Promise<T> {
    return this.request<T>("POST", path, body ?? {}, q);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  delete<T>(path: string, q?: Query): Promise<T> {
    return this.request<T>("DELETE", path, undefined, q);
  }
}

/** Turns an error body into a [`HubError`]. */
export function toHubError(status: number, text: string): HubError {
  try {
    const env = JSON.parse(text) as ApiErrorEnvelope;
    if (env && env.error) {
      return new HubError(status, env.error.code, env.error.name, env.error.message, env.error.explanation, env.error.requestId ?? null, env.error.info ?? {});
    }
  } catch {
    // not JSON: fall through
  }
  return new HubError(status, null, `HTTP ${status}`, text || `the hub answered ${status}`, "");
}
