import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { hookedD1, type Execution } from "./d1";

// The real D1 binding, passed through unchanged except that every execution (a prepared statement
// bound to its values) is written down with its SQL text and values, and every D1 round trip is
// counted: a statement's first/all/raw/run, a batch, an exec. The plans checked with it are those
// of the statements the code actually sends.

export type { Execution };
export type Recorder = { db: D1Database; executions: Execution[]; roundTrips: number };

export function recordingD1(target: D1Database = env.DB): Recorder {
  const recorder: Recorder = { db: target, executions: [], roundTrips: 0 };
  recorder.db = hookedD1(
    {
      before: (executions) => {
        recorder.roundTrips++;
        recorder.executions.push(...executions);
      },
    },
    target,
  );
  return recorder;
}

export async function planOf(execution: Execution): Promise<string[]> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${execution.sql}`)
    .bind(...execution.params)
    .all<{ detail: string }>();
  return results.map((r) => r.detail);
}

// A virtual table's step is always a SCAN; its index string says what FTS5 served it by: M for
// MATCH (the full-text index), = for a rowid lookup. Without either, it reads every entry.
const FULL_TEXT_STEP = /^SCAN \S+ VIRTUAL TABLE INDEX \d+:\S*[M=]/;

/** The rows of the plan are matches that indexes selected: a full-text MATCH, or an OR of index ranges. */
export function selectsMatches(plan: string[]): boolean {
  return plan.some((step) => /^SCAN \S+ VIRTUAL TABLE INDEX \d+:\S*M/.test(step) || step === "MULTI-INDEX OR");
}

/**
 * Every table the plan reads is reached through an index (SEARCH ... USING INDEX or PRIMARY KEY, or
 * for the full-text index a MATCH or a rowid): no step scans a table, or a whole index, whichever
 * table or alias it names; and nothing is sorted but a search's matches (ordered after an index
 * selected them: what the sort costs is what they cost).
 */
export function expectIndexed(plan: string[], context: string) {
  const where = `${context}: ${plan.join(" / ")}`;
  for (const step of plan) {
    if (/ VIRTUAL TABLE /.test(step)) expect(step, where).toMatch(FULL_TEXT_STEP);
    else expect(step, where).not.toMatch(/^SCAN (?!CONSTANT ROW)/);
    if (/^SEARCH /.test(step)) expect(step, where).toMatch(/ USING (COVERING )?(INDEX|INTEGER PRIMARY KEY|PRIMARY KEY)/);
  }
  const sorts = plan.filter((step) => /TEMP B-TREE/.test(step));
  if (selectsMatches(plan)) expect(sorts, where).toEqual(sorts.length ? ["USE TEMP B-TREE FOR ORDER BY"] : []);
  else expect(sorts, where).toEqual([]);
}
