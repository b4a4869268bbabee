// QA scenario runs as the Scenarios screen shows them: a batch's progress,
// the tone of a verdict, and which step of a case to point at.

import type { CaseOutcome } from "../api/generated/CaseOutcome";
import type { StepOutcome } from "../api/generated/StepOutcome";
import type { TestRunDto } from "../api/generated/TestRunDto";
import type { Tone } from "./story";

/** A verdict's colour: passed ok, failed bad, error warn, running wait. */
export function verdictTone(v: string): Tone {
  switch (v) {
    case "passed":
      return "ok";
    case "failed":
      return "bad";
    case "error":
      return "warn";
    case "running":
      return "wait";
    default:
      return "info";
  }
}

/** One character for a step's verdict, for the narrow step list. */
export function verdictMark(v: string): string {
  switch (v) {
    case "passed":
      return "✓";
    case "failed":
      return "✗";
    case "error":
      return "!";
    case "skipped":
      return "–";
    default:
      return "…";
  }
}

/** The first step that did not pass, the one a reader wants first. */
export function failingStep(c: CaseOutcome): StepOutcome | undefined {
  return c.steps.find((s) => s.verdict === "failed" || s.verdict === "error");
}

export interface BatchProgress {
  /** Records of the batch, in the order the cases run (oldest first). */
  runs: TestRunDto[];
  /** Cases not recorded yet (they have not started). */
  waiting: string[];
  passed: number;
  failed: number;
  errors: number;
  /** Every case has its final verdict. */
  done: boolean;
}

/**
 * Where a batch stands: `records` is what `/api/test-runs?batch=` answered
 * (newest first), `cases` the case names the run announced.
 */
export function batchProgress(records: TestRunDto[], cases: string[]): BatchProgress {
  const runs = [...records].sort((a, b) => a.id - b.id);
  const recorded = new Map<string, number>();
  for (const r of runs) recorded.set(r.name, (recorded.get(r.name) ?? 0) + 1);
  const waiting: string[] = [];
  for (const c of cases) {
    const n = recorded.get(c) ?? 0;
    if (n > 0) recorded.set(c, n - 1);
    else waiting.push(c);
  }
  const count = (v: string) => runs.filter((r) => r.verdict === v).length;
  return {
    runs,
    waiting,
    passed: count("passed"),
    failed: count("failed"),
    errors: count("error"),
    done: waiting.length === 0 && runs.every((r) => r.verdict !== "running"),
  };
}
