// Device-screen state that must outlive a tab switch: the ids of messages
// sent from this window (marked in the outcome list), and each device's
// method form with its last result, so a call still in flight lands where
// the user left it.

import { SvelteSet } from "svelte/reactivity";
import type { MethodResultDto } from "../../api/generated/MethodResultDto";
import type { MethodCommand } from "../../logic/commands";

/** Message ids sent from this window. */
export const sentHere = new SvelteSet<string>();

export class MethodSession {
  form = $state<MethodCommand>({ methodName: "", payload: "", connectTimeout: 0, responseTimeout: 30 });
  busy = $state(false);
  startedAt = $state(0);
  /** The call the result or error belongs to. */
  call = $state<MethodCommand | null>(null);
  result = $state<MethodResultDto | null>(null);
  error = $state<unknown>(null);
  /** Request id of a failed call, found in the trace (errors do not carry it). */
  failedRequestId = $state<string | null>(null);
}

// A plain object, not reactive: looking a session up (in a $derived) must
// never write reactive state.
const sessions: Record<string, MethodSession> = {};

/** The device's method session, created on first use. */
export function methodSession(deviceId: string): MethodSession {
  return (sessions[deviceId] ??= new MethodSession());
}
