import { env } from "cloudflare:workers";
import { expect } from "vitest";

// The real D1 binding, passed through unchanged except that every execution (a prepared statement
// bound to its values) is written down with its SQL text and values, and every D1 round trip is
// counted: a statement's first/all/raw/run, a batch, an exec. The plans checked with it are those
// of the statements the code actually sends.

export type Execution = { sql: string; params: unknown[] };
export type Recorder = { db: D1Database; executions: Execution[]; roundTrips: number };

const EXECUTING = ["first", "all", "raw", "run"] as const;

export function recordingD1(target: D1Database = env.DB): Recorder {
  const recorder: Recorder = { db: target, executions: [], roundTrips: 0 };
  // The bound statement is the real one (so that batches accept it), with its executing methods
  // counting round trips.
  const counting = (statement: D1PreparedStatement): D1PreparedStatement => {
    const methods = statement as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of EXECUTING) {
      const original = methods[name] as (...args: unknown[]) => unknown;
      methods[name] = (...args: unknown[]) => {
        recorder.roundTrips++;
        return original.apply(statement, args);
      };
    }
    return statement;
  };
  // The binding and every session of it record alike.
  const recording = <C extends D1Database | D1DatabaseSession>(client: C): C =>
    new Proxy(client, {
      get(db, prop) {
        const value = Reflect.get(db, prop, db);
        if (prop === "withSession") return (start?: string) => recording((db as D1Database).withSession(start));
        if (prop === "prepare") {
          return (query: string) => {
            const statement = db.prepare(query);
            return new Proxy(statement, {
              get(stmt, p) {
                if (p === "bind") {
                  return (...values: unknown[]) => {
                    recorder.executions.push({ sql: query, params: values });
                    return counting(stmt.bind(...values));
                  };
                }
                if ((EXECUTING as readonly (string | symbol)[]).includes(p)) {
                  // Executed without values.
                  recorder.executions.push({ sql: query, params: [] });
                  return counting(stmt)[p as (typeof EXECUTING)[number]].bind(stmt);
                }
                const member = Reflect.get(stmt, p, stmt);
                return typeof member === "function" ? member.bind(stmt) : member;
              },
            });
          };
        }
        if (prop === "batch" || prop === "exec") {
          return (...args: unknown[]) => {
            recorder.roundTrips++;
            return (value as (...a: unknown[]) => unknown).apply(db, args);
          };
        }
        return typeof value === "function" ? value.bind(db) : value;
      },
    });
  recorder.db = recording(target);
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
