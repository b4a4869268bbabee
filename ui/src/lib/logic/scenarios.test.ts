import { describe, expect, it } from "vitest";
import type { TestRunDto } from "../api/generated/TestRunDto";
import { batchProgress, failingStep, verdictMark, verdictTone } from "./scenarios";

function run(id: number, name: string, verdict: string): TestRunDto {
  return {
    id,
    batch: "b",
    name,
    verdict,
    started: "2026-11-28T10:00:00.000Z",
    updated: "2026-11-28T10:00:00.000Z",
    record: {
      name,
      scenario: name,
      file: "f.toml",
      params: {},
      seed: 1,
      verdict: verdict === "running" ? "passed" : (verdict as "passed"),
      started: "2026-11-28T10:00:00.000Z",
      durationMs: 1,
      steps: [],
      traceFrom: 0,
      traceTo: 0,
    },
  };
}

describe("scenario batches", () => {
  it("counts what ran, what waits, and ends when nothing runs", () => {
    const cases = ["a [x=1]", "a [x=2]", "b"];
    let p = batchProgress([run(2, "a [x=2]", "running"), run(1, "a [x=1]", "failed")], cases);
    expect(p.runs.map((r) => r.id)).toEqual([1, 2]);
    expect(p.waiting).toEqual(["b"]);
    expect(p.failed).toBe(1);
    expect(p.done).toBe(false);
    p = batchProgress([run(3, "b", "error"), run(2, "a [x=2]", "passed"), run(1, "a [x=1]", "failed")], cases);
    expect([p.passed, p.failed, p.errors, p.done]).toEqual([1, 1, 1, true]);
  });

  it("counts a case named twice (two files with one scenario name) twice", () => {
    const p = batchProgress([run(1, "same", "passed")], ["same", "same"]);
    expect(p.waiting).toEqual(["same"]);
    expect(p.done).toBe(false);
  });

  it("points at the first step that did not pass", () => {
    const r = run(1, "c", "failed").record;
    const step = (verdict: "passed" | "failed" | "skipped", at: string) => ({
      at,
      line: 3,
      kind: "invoke",
      label: at,
      verdict,
      durationMs: 1,
    });
    r.steps = [step("passed", "steps[0]"), step("failed", "steps[1]"), step("skipped", "steps[2]")];
    expect(failingStep(r)?.at).toBe("steps[1]");
    expect(verdictTone("failed")).toBe("bad");
    expect(verdictMark("skipped")).toBe("–");
  });
});
