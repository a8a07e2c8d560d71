import { drizzle } from "drizzle-orm/d1";

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
