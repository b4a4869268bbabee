// Collects items that arrive one by one (a thousand live events a second)
// and hands them over in batches, at most once per interval, so the screen
// updates a few times a second instead of once per event.

export interface Timer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimer: Timer = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class Batcher<T> {
  private pending: T[] = [];
  private handle: unknown = null;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly everyMs = 100,
    private readonly timer: Timer = realTimer,
  ) {}

  /** Adds an item; the batch goes out within `everyMs`. */
  push(item: T): void {
    this.pending.push(item);
    if (this.handle === null) this.handle = this.timer.set(() => this.flushNow(), this.everyMs);
  }

  /** Hands over what is pending now (nothing if empty). */
  flushNow(): void {
    if (this.handle !== null) this.timer.clear(this.handle);
    this.handle = null;
    if (!this.pending.length) return;
    const items = this.pending;
    this.pending = [];
    this.flush(items);
  }

  /** Drops what is pending (the view it was for is gone). */
  cancel(): void {
    if (this.handle !== null) this.timer.clear(this.handle);
    this.handle = null;
    this.pending = [];
  }

  get size(): number {
    return this.pending.length;
  }
}
