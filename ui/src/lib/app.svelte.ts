// The UI's shared state: the hub connection and its API, the live trace,
// the current route, notices, and the theme. Screens read it; nothing else
// is global.

import { HubClient, type HubConnection, HubError } from "./api/client";
import type { HubInfoDto } from "./api/generated/HubInfoDto";
import type { RulesDto } from "./api/generated/RulesDto";
import type { StorageProblem } from "./api/generated/StorageProblem";
import { type HubApi, hubApi } from "./api/hub";
import { LiveTrace, type LiveState } from "./live";

export type Route =
  | { screen: "devices" }
  | { screen: "device"; id: string; tab: string }
  | { screen: "trace"; story: string | null }
  | { screen: "feedback" }
  | { screen: "simulator" }
  | { screen: "serial" }
  | { screen: "scenarios" }
  | { screen: "settings" };

/** `#/devices/abc/methods` → a route. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "devices":
      return parts[1] ? { screen: "device", id: parts[1], tab: parts[2] || "messages" } : { screen: "devices" };
    case "trace":
      return { screen: "trace", story: parts[1] === "story" && parts[2] ? parts[2] : null };
    case "feedback":
    case "simulator":
    case "serial":
    case "scenarios":
    case "settings":
      return { screen: parts[0] };
    default:
      return { screen: "devices" };
  }
}

export function routeHash(r: Route): string {
  const e = encodeURIComponent;
  switch (r.screen) {
    case "device":
      return `#/devices/${e(r.id)}/${r.tab}`;
    case "trace":
      return r.story ? `#/trace/story/${e(r.story)}` : "#/trace";
    default:
      return `#/${r.screen}`;
  }
}

export interface Notice {
  id: number;
  tone: "ok" | "bad" | "info";
  text: string;
}

class AppState {
  conn = $state<HubConnection | null>(null);
  info = $state<HubInfoDto | null>(null);
  /** The rules the hub checks input against (forms pre-check with them). */
  rules = $state<RulesDto | null>(null);
  route = $state<Route>(parseRoute(window.location.hash));
  liveState = $state<LiveState>("connecting");
  /** False from the moment the live stream loses the hub until it is back
   * (a banner says so; screens keep what they last showed). */
  hubReachable = $derived(this.liveState !== "reconnecting");
  notices = $state<Notice[]>([]);
  theme = $state<"light" | "dark">(initialTheme());
  connectError = $state<string | null>(null);
  /** What is wrong with the hub's storage (a full disk): shown as a banner until it is over. */
  storage = $state<StorageProblem | null>(null);
  /** Set by the desktop shell: native dialogs and notifications exist. */
  readonly desktop = typeof window !== "undefined" && !!window.__HUBLET__;

  client: HubClient | null = null;
  api: HubApi | null = null;
  live: LiveTrace | null = null;
  private noticeId = 0;

  /** Connects to the hub: checks the token with `/api/hub` and opens the live trace. */
  async connect(conn: HubConnection): Promise<boolean> {
    const client = new HubClient(conn);
    const api = hubApi(client);
    try {
      [this.info, this.rules] = await Promise.all([api.info(), api.rules()]);
    } catch (e) {
      this.connectError = e instanceof HubError ? `${e.message}` : String(e);
      return false;
    }
    this.client = client;
    this.api = api;
    this.live?.close();
    const live = new LiveTrace((after) => api.traceStreamUrl({ afterId: after ?? undefined }));
    live.onState((s) => (this.liveState = s));
    live.onStorage((p) => (this.storage = p));
    this.storage = this.info?.stats.storage ?? null;
    live.start(null);
    this.live = live;
    this.connectError = null;
    this.conn = conn;
    return true;
  }

  go(r: Route): void {
    window.location.hash = routeHash(r);
  }

  notify(text: string, tone: Notice["tone"] = "info"): void {
    const id = ++this.noticeId;
    this.notices = [...this.notices, { id, tone, text }];
    setTimeout(() => (this.notices = this.notices.filter((n) => n.id !== id)), tone === "bad" ? 8000 : 4000);
  }

  setTheme(t: "light" | "dark"): void {
    this.theme = t;
    localStorage.setItem("hublet.theme", t);
    document.documentElement.dataset.theme = t;
  }

  async refreshInfo(): Promise<void> {
    if (this.api) [this.info, this.rules] = await Promise.all([this.api.info(), this.api.rules()]);
  }
}

function initialTheme(): "light" | "dark" {
  const saved = typeof localStorage !== "undefined" ? localStorage.getItem("hublet.theme") : null;
  if (saved === "light" || saved === "dark") return saved;
  return typeof window !== "undefined" && window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export const app = new AppState();

if (typeof window !== "undefined") {
  window.addEventListener("hashchange", () => (app.route = parseRoute(window.location.hash)));
  document.documentElement.dataset.theme = app.theme;
}
