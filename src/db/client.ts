import { fillPlaceholders } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { SQLitePreparedQuery } from "drizzle-orm/sqlite-core";

// No `schema`: given one, Drizzle derives the relations of every table for its relational query
// API (`db.query`), which nothing here uses, on each isolate's first request.
const open = (binding: D1Database) => drizzle(binding);

export type Db = ReturnType<typeof open>;

// One Drizzle instance per D1 binding (the binding lives as long as the isolate), so that the
// statements prepared on it (see `prepared`) are built once per isolate, not once per request.
const instances = new WeakMap<D1Database, Db>();

export function createDb(binding: D1Database): Db {
  let db = instances.get(binding);
  if (!db) {
    db = open(binding);
    instances.set(binding, db);
  }
  return db;
}

/**
 * A statement built once per Drizzle instance and reused, its values bound per call (placeholders).
 * Drizzle otherwise turns the query builder into SQL on every call: about a third of the CPU time
 * of a small request, measured.
 */
export function prepared<T>(build: (db: Db) => T): (db: Db) => T {
  const cache = new WeakMap<Db, T>();
  return (db) => {
    let statement = cache.get(db);
    if (statement === undefined) {
      statement = build(db);
      cache.set(db, statement);
    }
    return statement;
  };
}

/**
 * Like `prepared`, one statement per `key`, the shape of the query (which filters, which columns):
 * built from `args` the first time that key is asked for.
 */
export function preparedBy<A extends unknown[], T>(build: (db: Db, ...args: A) => T): (db: Db, key: string, ...args: A) => T {
  const cache = new WeakMap<Db, Map<string, T>>();
  return (db, key, ...args) => {
    let statements = cache.get(db);
    if (!statements) {
      statements = new Map();
      cache.set(db, statements);
    }
    let statement = statements.get(key);
    if (statement === undefined) {
      statement = build(db, ...args);
      statements.set(key, statement);
    }
    return statement;
  };
}

// Any prepared query, whatever its result.
type AnyPrepared = SQLitePreparedQuery<any>;
type Bound = readonly [AnyPrepared, Record<string, unknown>];
type BatchResults<T extends readonly Bound[]> = { [K in keyof T]: Awaited<ReturnType<T[K][0]["execute"]>> };

/**
 * Prepared statements with their placeholder values, in one D1 batch (one round trip, one
 * transaction), each result mapped as its statement maps it. Drizzle's own `db.batch` takes query
 * builders and turns each into SQL again on every call.
 */
export async function batchPrepared<T extends readonly [Bound, ...Bound[]]>(db: Db, items: T): Promise<BatchResults<T>> {
  const statements = items.map(([statement, values]) => {
    const query = statement.getQuery();
    return db.$client.prepare(query.sql).bind(...fillPlaceholders(query.params, values));
  });
  const results = await db.$client.batch(statements);
  return results.map((result, i) => (items[i] as Bound)[0].mapResult(result, true)) as BatchResults<T>;
}

/** Whether D1 answers a trivial query within `timeoutMs`; rejects with the reason when it does not. */
export async function pingDatabase(binding: D1Database, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([binding.prepare("SELECT 1").first(), timeout]);
  } finally {
    clearTimeout(timer as Parameters<typeof clearTimeout>[0]);
  }
}
