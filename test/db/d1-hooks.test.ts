import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hookedD1, type Execution } from "../helpers/d1";
import { gatedDb } from "../helpers/faults";

// The D1 wrapper the fault, concurrency and recording helpers are built on, checked on its own:
// the tests that use it pass whether or not a gate holds (the database keeps them apart), so these
// are what shows that it does.

describe("the hooked D1 binding", () => {
  it("hands a batch the real statements, and its hooks each statement's SQL and values, once", async () => {
    const given: D1PreparedStatement[] = [];
    const binding = {
      prepare: (query: string) => env.DB.prepare(query),
      batch: (statements: D1PreparedStatement[]) => {
        given.push(...statements);
        return env.DB.batch(statements);
      },
    } as unknown as D1Database;
    const seen: Execution[][] = [];
    const DB = hookedD1({ before: (executions) => void seen.push(executions) }, binding);
    const statements = [DB.prepare("SELECT ? AS n").bind(1), DB.prepare("SELECT 2 AS n")];
    const results = await DB.batch<{ n: number }>(statements);
    expect(results.map((result) => result.results)).toEqual([[{ n: 1 }], [{ n: 2 }]]);
    expect(
      given.map((statement, i) => statement === statements[i]),
      "the wrappers themselves",
    ).toEqual([false, false]);
    expect(seen).toEqual([
      [
        { sql: "SELECT ? AS n", params: [1] },
        { sql: "SELECT 2 AS n", params: [] },
      ],
    ]);
  });

  it("gatedDb holds a matching statement until the given number of them are ready, and lets others through", async () => {
    const DB = gatedDb(/^select 1\b/i, 2);
    let ran = false;
    const first = DB.prepare("SELECT 1 AS n")
      .first()
      .then(() => (ran = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await DB.prepare("SELECT 2 AS n").first("n")).toBe(2);
    expect(ran, "held while alone").toBe(false);
    await Promise.all([first, DB.prepare("SELECT 1 AS n").first()]);
    expect(ran).toBe(true);
  });
});
