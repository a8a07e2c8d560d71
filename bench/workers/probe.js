// Instrumented wrapper around the built API bundle (loaded as ./api.js), for structural checks
// only, never for timing: it counts the D1 round trips each request makes (a statement's
// first/all/run/raw, a batch, an exec) and every crypto.subtle.importKey other than the
// per-request PBKDF2 password import, and reports them in response headers, with the statements
// the request prepared (their SQL and bound values), for baseline (2) to replay.
import api from "./api.js";

const counts = { roundTrips: 0, keyImports: 0 };
let statements = [];

const subtle = crypto.subtle;
const importKey = subtle.importKey.bind(subtle);
subtle.importKey = (format, keyData, algorithm, ...rest) => {
  const name = typeof algorithm === "string" ? algorithm : algorithm?.name;
  if (name !== "PBKDF2") counts.keyImports++;
  return importKey(format, keyData, algorithm, ...rest);
};

const EXECUTING = ["first", "all", "run", "raw"];
// What each statement object would send: its SQL and, once bound, its values. A statement is
// recorded when it is sent (executed alone, or in a batch), so what is recorded is what D1 ran.
const sent = new WeakMap();

function countStatement(statement, entry) {
  sent.set(statement, entry);
  for (const method of EXECUTING) {
    const original = statement[method];
    if (typeof original !== "function") continue;
    statement[method] = (...args) => {
      counts.roundTrips++;
      statements.push(entry);
      return original.apply(statement, args);
    };
  }
  const bind = statement.bind;
  statement.bind = (...values) => countStatement(bind.apply(statement, values), { sql: entry.sql, params: values });
  return statement;
}

// The binding and each D1 session opened on it count alike.
function countingD1(db) {
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "withSession") return (start) => countingD1(target.withSession(start));
      if (prop === "prepare") return (query) => countStatement(target.prepare(query), { sql: query, params: [] });
      if (prop === "batch" || prop === "exec") {
        return (...args) => {
          counts.roundTrips++;
          if (prop === "batch") for (const statement of args[0]) statements.push(sent.get(statement));
          return value.apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    const before = counts.roundTrips;
    statements = [];
    const response = await api.fetch(request, { ...env, DB: countingD1(env.DB) }, ctx);
    const headers = new Headers(response.headers);
    headers.set("X-Probe-D1-Round-Trips", String(counts.roundTrips - before));
    headers.set("X-Probe-Key-Imports", String(counts.keyImports));
    headers.set("X-Probe-Statements", encodeURIComponent(JSON.stringify(statements)));
    return new Response(response.body, { status: response.status, headers });
  },
};
