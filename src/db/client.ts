import { Column, DrizzleQueryError, fillPlaceholders, getTableName, is, SQL, Subquery } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { BatchItem } from "drizzle-orm/batch";
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

// A request's Drizzle instance over its D1 session, and the binding's instance it stands for: a
// session is a new object per request, so statements are prepared on (and cached by) the latter.
const bindingDbs = new WeakMap<Db, Db>();
const preparingDb = (db: Db) => bindingDbs.get(db) ?? db;

/**
 * A request's database: a Drizzle instance over a new D1 session of `binding` (D1's Sessions API),
 * started at `start` (a constraint or a bookmark). Its queries and batches run in that session;
 * the statements it prepares are those of the binding, built once per isolate.
 */
export function openSession(binding: D1Database, start: string): { db: Db; session: D1DatabaseSession } {
  const session = binding.withSession(start);
  // Drizzle's D1 driver uses only prepare and batch, which a session has.
  const db = open(session as unknown as D1Database);
  bindingDbs.set(db, createDb(binding));
  return { db, session };
}

/**
 * A statement built once per D1 binding and reused, its values bound per call (placeholders).
 * Drizzle otherwise turns the query builder into SQL on every call: about a third of the CPU time
 * of a small request, measured. It is run through `allPrepared` or `batchPrepared`, in the
 * request's session.
 */
export function prepared<T>(build: (db: Db) => T): (db: Db) => T {
  const cache = new WeakMap<Db, T>();
  return (requestDb) => {
    const db = preparingDb(requestDb);
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
  return (requestDb, key, ...args) => {
    const db = preparingDb(requestDb);
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
export type Bound = readonly [AnyPrepared, Record<string, unknown>];
export type BatchResults<T extends readonly Bound[]> = { [K in keyof T]: Awaited<ReturnType<T[K][0]["execute"]>> };

// Drizzle maps a result row by row and column by column, asking each column what kind of field it
// is every time, and a batch's rows (objects, from D1) are first turned back into arrays: a tenth of
// a list page's CPU time, measured. The same mapping is compiled once per prepared statement here,
// from the ordered selection and join map Drizzle keeps on it (internal members of drizzle-orm,
// whose version is pinned); test/db/rows.test.ts holds it equal to Drizzle's own mapResult.
type Ordered = { path: string[]; field: unknown }[];
type Internals = {
  fields?: Ordered;
  joinsNotNullableMap?: Record<string, boolean>;
  executeMethod?: string;
  customResultMapper?: unknown;
};
type Decoder = { mapFromDriverValue(value: unknown): unknown };
type RowMapper = (values: unknown[]) => Record<string, unknown>;

// As Drizzle's mapResultRow picks it: the column itself, or the SQL's decoder (internal).
const sqlDecoder = (sql: unknown) => (sql as { decoder: Decoder }).decoder;
const decoderOf = (field: unknown): Decoder =>
  is(field, Column)
    ? field
    : is(field, SQL)
      ? sqlDecoder(field)
      : is(field, Subquery)
        ? sqlDecoder(field._.sql)
        : sqlDecoder((field as SQL.Aliased).sql);

function compileMapper({ fields = [], joinsNotNullableMap: joins }: Internals): RowMapper {
  const leaves = fields.map(({ path, field }) => ({
    path,
    last: path[path.length - 1] as string,
    decoder: decoderOf(field),
    // As Drizzle does: a joined table's object is null when its first column is null, and it is not an inner join.
    table: joins && is(field, Column) && path.length === 2 ? getTableName(field.table) : undefined,
  }));
  return (values) => {
    const row: Record<string, unknown> = {};
    let nullable: Record<string, string | false> | undefined;
    for (let i = 0; i < leaves.length; i++) {
      const { path, last, decoder, table } = leaves[i] as (typeof leaves)[number];
      let node = row;
      for (let depth = 0; depth < path.length - 1; depth++)
        node = (node[path[depth] as string] ??= {}) as Record<string, unknown>;
      const raw = values[i];
      const value = (node[last] = raw === null ? null : decoder.mapFromDriverValue(raw));
      if (table !== undefined) {
        nullable ??= {};
        const object = path[0] as string;
        if (!(object in nullable)) nullable[object] = value === null ? table : false;
        else if (typeof nullable[object] === "string" && nullable[object] !== table) nullable[object] = false;
      }
    }
    if (nullable && joins)
      for (const [object, table] of Object.entries(nullable)) if (typeof table === "string" && !joins[table]) row[object] = null;
    return row;
  };
}

const mappers = new WeakMap<AnyPrepared, RowMapper | null>();

/** The compiled row mapping of a statement that returns mapped rows; null for any other (Drizzle maps those). */
function mapperOf(statement: AnyPrepared): RowMapper | null {
  let mapper = mappers.get(statement);
  if (mapper === undefined) {
    const internals = statement as unknown as Internals;
    mapper =
      internals.executeMethod === "all" && internals.fields && !internals.customResultMapper ? compileMapper(internals) : null;
    mappers.set(statement, mapper);
  }
  return mapper;
}

/**
 * A prepared statement's result in a batch, mapped as Drizzle maps it. Its rows are objects, taken
 * in their keys' order as Drizzle takes them: columns that share a name, or that are named by an
 * integer (which objects order first), would not map; no statement here selects such columns.
 */
function mapBatchResult(statement: AnyPrepared, result: D1Result): unknown {
  const mapper = mapperOf(statement);
  return mapper ? (result.results as object[]).map((row) => mapper(Object.values(row))) : statement.mapResult(result, true);
}

/** A prepared statement's rows, with its placeholder values: one round trip. */
export async function allPrepared<S extends AnyPrepared>(
  db: Db,
  statement: S,
  values: Record<string, unknown>,
): Promise<Awaited<ReturnType<S["all"]>>> {
  const mapper = mapperOf(statement);
  const query = statement.getQuery();
  const params = fillPlaceholders(query.params, values);
  // On the request's client (its session), not the binding the statement was prepared on.
  const bound = db.$client.prepare(query.sql).bind(...params);
  // Failures as Drizzle reports them, so that a log's summary removes the bound values (src/log.ts).
  const fail = (error: unknown) => {
    throw new DrizzleQueryError(query.sql, params, error as Error);
  };
  if (!mapper) {
    // As Drizzle's own `all`: the rows as D1 gives them when nothing maps them, else its mapping.
    const result = await bound.all().catch(fail);
    const internals = statement as unknown as Internals;
    return (internals.fields || internals.customResultMapper ? statement.mapResult(result, true) : result.results) as Awaited<
      ReturnType<S["all"]>
    >;
  }
  const rows = await bound.raw().catch(fail);
  return rows.map(mapper) as Awaited<ReturnType<S["all"]>>;
}

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
  return results.map((result, i) => mapBatchResult((items[i] as Bound)[0], result)) as BatchResults<T>;
}

/** The statements of a batch an operation adds only in some cases: those given. */
export const present = (...items: (BatchItem<"sqlite"> | undefined)[]): BatchItem<"sqlite">[] =>
  items.filter((item): item is BatchItem<"sqlite"> => item !== undefined);

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
