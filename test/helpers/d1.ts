import { env } from "cloudflare:workers";

/** A statement as it runs on D1: its SQL and the values bound to it. */
export type Execution = { sql: string; params: unknown[] };

export type D1Hooks = {
  /** The SQL to prepare instead of `query`; asked at every prepare, whether the statement runs or not. */
  rewrite?: (query: string) => string;
  /**
   * Awaited before each round trip to D1: a statement's first/all/raw/run (one execution), a batch
   * (its statements, in order) or an exec (none: its SQL is not a prepared statement).
   */
  before?: (executions: Execution[]) => unknown;
  /** Awaited after it ran, before the caller sees the result; not when it failed. */
  after?: (executions: Execution[]) => unknown;
  /** Told where each session opened through the binding starts. */
  session?: (start: string | undefined) => void;
};

const EXECUTING = new Set<string | symbol>(["first", "all", "raw", "run"]);
const UNKNOWN: Execution = { sql: "", params: [] };

/**
 * The real D1 binding (or `binding`), seen through `hooks`: every statement prepared through it or
 * through a session of it (bound copies too) runs the hooks when it executes, alone or in a batch.
 */
export function hookedD1(hooks: D1Hooks, binding: D1Database = env.DB): D1Database {
  // D1's batch() reads each statement's own fields (its SQL and values) instead of calling it, so a
  // batch is handed the real statements the wrappers stand for, never the wrappers.
  const statements = new WeakMap<object, { real: D1PreparedStatement; execution: Execution }>();
  const roundTrip = async <T>(executions: Execution[], run: () => Promise<T>): Promise<T> => {
    await hooks.before?.(executions);
    const result = await run();
    await hooks.after?.(executions);
    return result;
  };
  const wrap = (real: D1PreparedStatement, execution: Execution): D1PreparedStatement => {
    const statement = new Proxy(real, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property === "bind") {
          return (...params: unknown[]) => wrap(target.bind(...params), { sql: execution.sql, params });
        }
        if (EXECUTING.has(property)) {
          return (...args: unknown[]) =>
            roundTrip([execution], async () => (value as (...a: unknown[]) => unknown).apply(target, args));
        }
        return value.bind(target);
      },
    });
    statements.set(statement, { real, execution });
    return statement;
  };
  const hooked = <C extends D1Database | D1DatabaseSession>(client: C): C =>
    new Proxy(client, {
      get(target, property) {
        if (property === "withSession") {
          return (start?: string) => {
            hooks.session?.(start);
            return hooked((target as D1Database).withSession(start));
          };
        }
        if (property === "prepare") {
          return (query: string) => {
            const sql = hooks.rewrite?.(query) ?? query;
            return wrap(target.prepare(sql), { sql, params: [] });
          };
        }
        if (property === "batch") {
          return (batch: D1PreparedStatement[]) => {
            const known = batch.map((statement) => statements.get(statement));
            return roundTrip(
              known.map((statement) => statement?.execution ?? UNKNOWN),
              () => target.batch(batch.map((statement, i) => known[i]?.real ?? statement)),
            );
          };
        }
        if (property === "exec") return (query: string) => roundTrip([], () => (target as D1Database).exec(query));
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return hooked(binding);
}
