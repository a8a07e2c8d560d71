import { env } from "cloudflare:workers";
import { app } from "../../src/app";
import type { Bindings } from "../../src/env";
import { readResponse } from "./api";
import { expectContract } from "./contract";
import { hookedD1, type Execution } from "./d1";

/** The statement's table renamed to one that does not exist: it fails inside D1, as a storage fault would. */
const broken = (query: string) => query.replace(/\b(from|into|update)\s+"(\w+)"/i, '$1 "$2_unavailable"');
const BROKEN = /"\w+_unavailable"/;
/** Whether a statement (or a batch) about to run or just run has SQL matching `pattern`. */
const runs = (executions: Execution[], pattern: RegExp) => executions.some(({ sql }) => pattern.test(sql));

/**
 * The real D1 binding, except that statements whose SQL matches `pattern` fail inside D1, batches
 * included (a failing statement rolls its whole batch back).
 */
export function faultyDb(pattern: RegExp): D1Database {
  return hookedD1({ rewrite: (query) => (pattern.test(query) ? broken(query) : query) });
}

/** The real D1 binding with every statement failing inside D1: a database that is down. */
export function unreachableDb(): D1Database {
  return hookedD1({ rewrite: () => 'SELECT 1 FROM "database_unavailable"' });
}

/**
 * The real D1 binding, except that the `n`th statement prepared through it (1-based) fails inside
 * D1, after `delayMs` when given (a statement that times out). Counting statements lets a test
 * fail every step of a request in turn without knowing its SQL.
 */
export function failingNthDb(n: number, delayMs = 0): D1Database {
  let prepared = 0;
  return hookedD1({
    rewrite: (query) => (++prepared === n ? broken(query) : query),
    before: (executions) => (runs(executions, BROKEN) ? new Promise((resolve) => setTimeout(resolve, delayMs)) : undefined),
  });
}

/**
 * Calls the real app with a replaced environment (a faulty database or another configuration).
 * Like `send`, checks the response against the committed openapi.json before returning it.
 */
export async function callWith(
  overrides: Partial<Omit<Env, keyof Bindings> & Bindings>,
  method: string,
  path: string,
  init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  const response = await app.request(
    path,
    { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) },
    { ...env, ...overrides },
  );
  const result = await readResponse(response);
  expectContract(method, path, result);
  return result;
}

/**
 * The real D1 binding, except that statements (or batches) with SQL matching `pattern` wait until
 * `parties` of them are ready to run, then all run. Two requests gated this way have both passed
 * every check that precedes their write, so only the database can keep them apart.
 */
export function gatedDb(pattern: RegExp, parties: number): D1Database {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return hookedD1({
    before: (executions) => {
      if (!runs(executions, pattern)) return;
      if (++waiting >= parties) open();
      return opened;
    },
  });
}

/**
 * The real D1 binding, except that `action` runs once, on the real database, just before the
 * first statement (or batch) with SQL matching `pattern` executes: a concurrent change that lands
 * between a request's earlier statements (authentication) and that one. With `after: true`, just
 * after it executed instead: a change that lands between that statement and anything later.
 */
export function interleavedDb(
  pattern: RegExp,
  action: (db: D1Database) => Promise<unknown>,
  options: { after?: boolean } = {},
): D1Database {
  let done: Promise<unknown> | undefined;
  const once = (executions: Execution[]) => (runs(executions, pattern) ? (done ??= action(env.DB)) : undefined);
  return hookedD1(options.after ? { after: once } : { before: once });
}
