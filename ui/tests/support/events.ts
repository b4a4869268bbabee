// Trace events for the UI's tests: the ones the real engine wrote in the
// Rust contract test (crates/hublet-core/tests/core/contract.rs), read
// with the UI's own parser. No test makes up an event's shape; a test that
// needs a variation copies a real event and changes a value in it.

import { readFileSync } from "node:fs";
import type { RulesDto } from "../../src/lib/api/generated/RulesDto";
import type { TraceEventDto } from "../../src/lib/api/generated/TraceEventDto";
import type { EventOf } from "../../src/lib/logic/eventKinds";
import { parseJsonl } from "../../src/lib/logic/traceFile";

const text = readFileSync(new URL("../fixtures/trace-events.jsonl", import.meta.url), "utf8");
const parsed = parseJsonl(text);
if (parsed.badCount) throw new Error(`the fixture has ${parsed.badCount} unreadable lines: ${JSON.stringify(parsed.bad)}`);

/** Every event of the contract run, in id order. */
export const EVENTS: readonly TraceEventDto[] = parsed.events;

/** The events of one kind. */
export function all<K extends TraceEventDto["kind"]>(kind: K): EventOf<K>[] {
  return EVENTS.filter((e): e is EventOf<K> => e.kind === kind);
}

/** The first event of a kind (optionally matching `where`); throws if there is none. */
export function one<K extends TraceEventDto["kind"]>(kind: K, where: (e: EventOf<K>) => boolean = () => true): EventOf<K> {
  const e = all(kind).find(where);
  if (!e) throw new Error(`the fixture has no ${kind} event like that`);
  return structuredClone(e);
}

/** Every event of one message's or call's story (by message id or request id). */
export function storyOf(key: string): TraceEventDto[] {
  return EVENTS.filter((e) => e.messageId === key || e.requestId === key).map((e) => structuredClone(e));
}

/** A real event with some fields changed (a copy; the fixture is untouched). */
export function variant<E extends TraceEventDto>(e: E, change: Partial<Omit<E, "detail">> & { detail?: Partial<E["detail"]> }): E {
  const { detail, ...rest } = change;
  return { ...structuredClone(e), ...rest, detail: { ...structuredClone(e.detail), ...(detail ?? {}) } } as E;
}

/** The rules the hub publishes with default settings (`/api/rules`), as the Rust API test wrote them. */
export const RULES: RulesDto = JSON.parse(readFileSync(new URL("../fixtures/rules.json", import.meta.url), "utf8")) as RulesDto;
