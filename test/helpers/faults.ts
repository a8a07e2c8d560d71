import { env } from "cloudflare:workers";
import { app } from "../../src/app";
import type { Bindings } from "../../src/env";
import { readResponse } from "./api";
import { expectContract } from "./contract";

/**
 * The real D1 binding, except that statements whose SQL matches `pattern` are redirected to a
 * table that does not exist, so they fail inside D1 exactly where a storage fault would,
 * batches included (a failing statement rolls its whole batch back).
 */
export function faultyDb(pattern: RegExp): D1Database {
  const real = env.DB;
  return new Proxy(real, {
    get(target, property) {
      if (property === "prepare") {
        return (query: string) =>
          target.prepare(pattern.test(query) ? query.replace(/\b(from|into|update)\s+"(\w+)"/i, '$1 "$2_unavailable"') : query);
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The real D1 binding, except that the `n`th statement prepared through it (1-based) fails inside
 * D1, after `delayMs` when given (a statement that times out). Counting statements lets a test
 * fail every step of a request in turn without knowing its SQL.
 */
export function failingNthDb(n: number, delayMs = 0): D1Database {
  const real = env.DB;
  let prepared = 0;
  const delayed = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, name) {
        const value: unknown = Reflect.get(target, name);
        if (typeof value !== "function") return value;
        if (name === "bind") return (...args: unknown[]) => delayed(target.bind(...args));
        return async (...args: unknown[]) => {
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return new Proxy(real, {
    get(target, property) {
      if (property === "prepare") {
        return (query: string) => {
          prepared += 1;
          if (prepared !== n) return target.prepare(query);
          const broken = target.prepare(query.replace(/\b(from|into|update)\s+"(\w+)"/i, '$1 "$2_unavailable"'));
          return delayMs === 0 ? broken : delayed(broken);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Calls the real app with a replaced environment (a faulty database or another configuration).
 * Like `send`, checks the response against the committed openapi.json before returning it.
 */
export async function callWith(
  overrides: Partial<Env & Bindings>,
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
 * The real D1 binding, except that statements whose SQL matches `pattern` wait until `parties`
 * of them are ready to run, then all run. Two requests gated this way have both passed every
 * check that precedes their write, so only the database can keep them apart.
 */
export function gatedDb(pattern: RegExp, parties: number): D1Database {
  const real = env.DB;
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrive = () => {
    if (++waiting >= parties) open();
    return opened;
  };
  const gate = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => gate(target.bind(...args));
        if (property === "first" || property === "all" || property === "raw" || property === "run") {
          return async (...args: unknown[]) => {
            await arrive();
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
  return new Proxy(real, {
    get(target, property) {
      if (property === "prepare")
        return (query: string) => (pattern.test(query) ? gate(target.prepare(query)) : target.prepare(query));
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The real D1 binding, except that `action` runs once, on the real database, just before the
 * first statement whose SQL matches `pattern` executes: a concurrent change that lands between
 * a request's earlier statements (authentication) and that one.
 */
export function interleavedDb(pattern: RegExp, action: (db: D1Database) => Promise<unknown>): D1Database {
  const real = env.DB;
  let done: Promise<unknown> | undefined;
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => wrap(target.bind(...args));
        if (property === "first" || property === "all" || property === "raw" || property === "run") {
          return async (...args: unknown[]) => {
            await (done ??= action(real));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
  return new Proxy(real, {
    get(target, property) {
      if (property === "prepare")
        return (query: string) => (pattern.test(query) ? wrap(target.prepare(query)) : target.prepare(query));
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
