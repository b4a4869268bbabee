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
    /** Set by the desktop shell before the UI loads: the hub's address
     * and token, or why the hub could not start. */
    __HUBLET__?: { api: string; token: string } | { startupError: import("../desktop").StartupProblem };
  }
}

const TOKEN_KEY = "hublet.token";

/** Finds the hub: the desktop shell's, else this page's origin. */
export function discoverConnection(loc: Location = window.location, storage: Storage = window.localStorage): HubConnection | null {
  const injected = window.__HUBLET__;
  if (injected && "startupError" in injected) return null;
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

  /** "404103 DeviceNotOnline", the HTTP status, or that the hub is not answering. */
  get label(): string {
    if (this.code !== null) return `${this.code} ${this.errorName}`;
    return this.status === 0 ? "The hub is not answering" : `${this.status} ${this.errorName}`;
  }
}

/**
 * What a request that never got an answer becomes. `fetch` only says
 * "TypeError: Failed to fetch" (Chromium) or "Load failed" (WebKit), which
 * tells a user nothing, so the cause is not shown.
 */
export function unreachable(): HubError {
  return new HubError(
    0,
    null,
    "Unreachable",
    "The request did not reach the hub.",
    "The hub may have stopped, or the network between here and the hub is down. Hublet keeps trying to reconnect; try again once the hub answers.",
  );
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

  /** A URL that carries the token itself, for the live stream only
   * (EventSource cannot send headers; files go through `file`). */
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
    } catch {
      throw unreachable();
    }
    if (resp.status === 204) return undefined as T;
    const text = await resp.text();
    if (!resp.ok) throw toHubError(resp.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A file from the hub (an export, the CA certificate) as text, with the
   * token in the Authorization header: a link carrying it in its URL would
   * leave it in the history, logs and the downloads list. */
  async file(path: string, q?: Query): Promise<string> {
    let resp: Response;
    try {
      resp = await fetch(this.url(path, q), { headers: { authorization: `Bearer ${this.conn.token}` } });
    } catch {
      throw unreachable();
    }
    const text = await resp.text();
    if (!resp.ok) throw toHubError(resp.status, text);
    return text;
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
