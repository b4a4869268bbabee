// The hub's live trace as one shared stream: a single EventSource for the
// whole UI, reconnecting from the last event seen so nothing is missed
// across a network hiccup or a hub restart, and falling back to a catch-up
// when the hub says this client lagged behind. It is also how the UI knows
// the hub is there: a closed stream, or a stream silent for longer than a
// few of the hub's heartbeats, means the hub is not answering.

import type { StorageProblem } from "./api/generated/StorageProblem";
import type { TraceEventDto } from "./api/generated/TraceEventDto";

export type LiveState = "connecting" | "live" | "reconnecting";
type Listener = (e: TraceEventDto) => void;

/** How long an open stream may stay silent before the hub counts as gone:
 * the hub pings every 150 ms while quiet (`HEARTBEAT`, hublet-api's
 * routes/trace.rs), so this is 3 missed beats, and the user hears of a
 * silent hub within a second. */
export const SILENCE_MS = 500;
/** How long a connection attempt may take before another is tried (a
 * resume replays the missed events before the stream opens). */
export const CONNECT_MS = 5000;
/** How often the silence is checked. */
const WATCH_MS = 50;

export class LiveTrace {
  private source: EventSource | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<(s: LiveState) => void>();
  private storageListeners = new Set<(p: StorageProblem | null) => void>();
  /** The last event seen (null: none yet, so a reconnect starts from "now"). */
  private lastId: number | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private watch: ReturnType<typeof setInterval> | null = null;
  /** When the stream last gave a sign of life (opened, or any event). */
  private heard = 0;
  private lastCheck = 0;
  private opened = false;
  private closed = false;
  state: LiveState = "connecting";

  /** `urlFor(afterId)` gives the stream URL, resuming after that event. */
  constructor(private readonly urlFor: (afterId: number | null) => string) {}

  /** Starts after `afterId` (null: from now). */
  start(afterId: number | null): void {
    if (afterId !== null) this.lastId = afterId;
    this.open(afterId);
    this.lastCheck = Date.now();
    this.watch = setInterval(() => this.checkSilence(), WATCH_MS);
  }

  private open(afterId: number | null): void {
    if (this.closed) return;
    this.source?.close();
    const es = new EventSource(this.urlFor(afterId));
    this.source = es;
    this.opened = false;
    this.heard = Date.now();
    const alive = () => (this.heard = Date.now());
    es.addEventListener("open", () => {
      alive();
      this.opened = true;
      this.setState("live");
    });
    es.addEventListener("ping", alive);
    es.addEventListener("trace", (m) => {
      alive();
      let e: TraceEventDto;
      try {
        e = JSON.parse((m as MessageEvent<string>).data) as TraceEventDto;
      } catch {
        return;
      }
      if (this.lastId !== null && e.id <= this.lastId) return;
      this.lastId = e.id;
      for (const l of this.listeners) l(e);
    });
    es.addEventListener("storage", (m) => {
      alive();
      let p: StorageProblem | null;
      try {
        p = JSON.parse((m as MessageEvent<string>).data) as StorageProblem | null;
      } catch {
        return;
      }
      for (const l of this.storageListeners) l(p);
    });
    es.addEventListener("lagged", () => this.reopen(0));
    // The stream closed (the hub stopped, the network dropped): say so at
    // once, and retry every second.
    es.addEventListener("error", () => this.lost(1000));
  }

  /** A stream that stays open but silent (a suspended hub, a dead link
   * the OS has not noticed) never errors: the silence is the sign. */
  private checkSilence(): void {
    const now = Date.now();
    // A late check means this page was busy or asleep, not the hub silent:
    // its events may still be queued behind the check.
    if (now - this.lastCheck > SILENCE_MS / 2) this.heard = now;
    this.lastCheck = now;
    if (this.source && now - this.heard > (this.opened ? SILENCE_MS : CONNECT_MS)) this.lost(0);
  }

  private lost(retryMs: number): void {
    this.setState("reconnecting");
    this.reopen(retryMs);
  }

  private reopen(delayMs: number): void {
    this.source?.close();
    this.source = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => this.open(this.lastId), delayMs);
  }

  private setState(s: LiveState): void {
    if (s === this.state) return;
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  /** Calls `l` for every new event; returns the unsubscribe function. */
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Calls `l` when the hub's storage problem (a full disk) starts or ends. */
  onStorage(l: (p: StorageProblem | null) => void): () => void {
    this.storageListeners.add(l);
    return () => this.storageListeners.delete(l);
  }

  onState(l: (s: LiveState) => void): () => void {
    this.stateListeners.add(l);
    l(this.state);
    return () => this.stateListeners.delete(l);
  }

  get lastEventId(): number | null {
    return this.lastId;
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.watch) clearInterval(this.watch);
    this.source?.close();
  }
}

/** Calls `fn` at most once per `ms`, trailing (for refreshes on bursts of events). */
export function throttle(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}

/** Calls `refresh` (throttled to once per `ms`) whenever a live event
 * satisfies `pred`: how a screen keeps a list current. Returns the
 * unsubscribe function. */
export function refreshOn(live: LiveTrace | null, pred: (e: TraceEventDto) => boolean, refresh: () => void, ms = 300): () => void {
  const soon = throttle(refresh, ms);
  return live?.subscribe((e) => pred(e) && soon()) ?? (() => {});
}
