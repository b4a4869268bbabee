// How a board's state reads on screen. The states are the bridge's own
// (`BoardState` in the engine's serial crate).

import type { BoardState } from "../../api/generated/BoardState";

/** Words for each state, and the badge tone. */
export const BOARD_STATES: Record<BoardState, { label: string; tone: string }> = {
  searching: { label: "searching", tone: "tone-wait" },
  opened: { label: "port open, no HELLO yet", tone: "tone-warn" },
  connected: { label: "connected", tone: "tone-ok" },
  released: { label: "released", tone: "tone-warn" },
  error: { label: "cannot open", tone: "tone-bad" },
};

/** Whether the port is open (so bytes can be sent and the board reset). */
export function portOpen(s: BoardState): boolean {
  return s === "opened" || s === "connected";
}
