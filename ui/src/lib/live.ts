// The hub's live trace as one shared stream: a single EventSource for the
// whole UI, reconnecting from the last event seen so nothing is missed
// across a network hiccup or a hub restart, and falling back to a catch-up
// when the hub says this client lagged behind.

import type { StorageProblem } from "./api/generated/StorageProblem";
import type { TraceEventDto } from "./api/generated/TraceEventDto";

export type LiveState = "connecting" | "live" | "reconnecting";
type Listener = (e: TraceEventDto) => void;

export class LiveTrace {
  private source: EventSource | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<(s: LiveState) => void>();
  private storageListeners = new Set<(p: StorageProblem | null) => void>();
  /** The last event seen (null: none yet, so a reconnect starts from "now"). */
  private lastId: number | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  state: LiveState = "connecting";

  /** `urlFor(afterId)` gives the stream URL, resuming after that event. */
  constructor(private readonly urlFor: (afterId: number | null) => string) {}

  /** Starts after `afterId` (null: from now). */
  start(afterId: number | null): void {
    if (afterId !== null) this.lastId = afterId;
    this.open(afterId);
  }

  private open(afterId: number | null): void {
    if (this.closed) return;
    this.source?.close();
    const es = new EventSource(this.urlFor(afterId));
    this.source = es;
    es.addEventListener("open", () => this.setState("live"));
    es.addEventListener("trace", (m) => {
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
      let p: StorageProblem | null;
      try {
        p = JSON.parse((m as MessageEvent<string>).data) as StorageProblem | null;
      } catch {
        return;
      }
      for (const l of this.storageListeners) l(p);
    });
    es.addEventListener("lagged", () => this.reopen(0));
    es.addEventListener("error", () => {
      this.setState("reconnecting");
      this.reopen(1000);
    });
  }

  private reopen(delayMs: number): void {
    this.source?.close();
    this.source = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => this.open(this.lastId), delayMs);
  }

  private setState(s: LiveState): void {
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
