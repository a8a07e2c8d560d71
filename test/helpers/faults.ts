import { env } from "cloudflare:workers";
import { app } from "../../src/app";
import type { Bindings } from "../../src/env";
import { readResponse } from "./api";
import { expectContract } from "./contract";

type Hooks = {
  /** The SQL to prepare instead of `query`. */
  rewrite?: (query: string) => string;
  /** Awaited before a statement, or a batch (all its statements' SQL), runs on D1. */
  before?: (queries: string[]) => unknown;
  /** Awaited after it ran, before the caller sees the result. */
  after?: (queries: string[]) => unknown;
};

/**
 * The real D1 binding, seen through `hooks`: every statement prepared through it or through a
 * session of it (bound copies too) runs the hooks when it executes, alone or in a batch.
 */
function hookedDb(hooks: Hooks): D1Database {
  const sqlOf = new WeakMap<object, string>();
  const realOf = new WeakMap<object, D1PreparedStatement>();
  const around = async <T>(queries: string[], run: () => Promise<T>): Promise<T> => {
    await hooks.before?.(queries);
    const result = await run();
    await hooks.after?.(queries);
    return result;
  };
  const wrap = (statement: D1PreparedStatement, query: string): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => wrap(target.bind(...args), query);
        if (property === "first" || property === "all" || property === "raw" || property === "run") {
          return (...args: unknown[]) =>
            around([query], async () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
        }
        return value.bind(target);
      },
    });
    sqlOf.set(proxy, query);
    realOf.set(proxy, statement);
    return proxy;
  };
  const hooked = <C extends D1Database | D1DatabaseSession>(client: C): C =>
    new Proxy(client, {
      get(target, property) {
        if (property === "withSession") {
          return (start?: string) => hooked((target as D1Database).withSession(start));
        }
        if (property === "prepare") {
          return (query: string) => {
            const prepared = hooks.rewrite?.(query) ?? query;
            return wrap(target.prepare(prepared), prepared);
          };
        }
        if (property === "batch") {
          return (statements: D1PreparedStatement[]) =>
            around(
              statements.map((statement) => sqlOf.get(statement) ?? ""),
              () => target.batch(statements.map((statement) => realOf.get(statement) ?? statement)),
            );
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return hooked(env.DB);
}

/** The statement's table renamed to one that does not exist: it fails inside D1, as a storage fault would. */
const broken = (query: string) => query.replace(/\b(from|into|update)\s+"(\w+)"/i, '$1 "$2_unavailable"');
const isBroken = (query: string) => /"\w+_unavailable"/.test(query);

/**
 * The real D1 binding, except that statements whose SQL matches `pattern` fail inside D1, batches
 * included (a failing statement rolls its whole batch back).
 */
export function faultyDb(pattern: RegExp): D1Database {
  return hookedDb({ rewrite: (query) => (pattern.test(query) ? broken(query) : query) });
}

/** The real D1 binding with every statement failing inside D1: a database that is down. */
export function unreachableDb(): D1Database {
  return hookedDb({ rewrite: () => 'SELECT 1 FROM "database_unavailable"' });
}

/**
 * The real D1 binding, except that the `n`th statement prepared through it (1-based) fails inside
 * D1, after `delayMs` when given (a statement that times out). Counting statements lets a test
 * fail every step of a request in turn without knowing its SQL.
 */
export function failingNthDb(n: number, delayMs = 0): D1Database {
  let prepared = 0;
  return hookedDb({
    rewrite: (query) => (++prepared === n ? broken(query) : query),
    before: (queries) => (queries.some(isBroken) ? new Promise((resolve) => setTimeout(resolve, delayMs)) : undefined),
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
  return hookedDb({
    before: (queries) => {
      if (!queries.some((query) => pattern.test(query))) return;
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
  const once = (queries: string[]) => (queries.some((query) => pattern.test(query)) ? (done ??= action(env.DB)) : undefined);
  return hookedDb(options.after ? { after: once } : { before: once });
}
