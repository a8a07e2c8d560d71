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

function countStatement(statement, entry) {
  for (const method of EXECUTING) {
    const original = statement[method];
    if (typeof original !== "function") continue;
    statement[method] = (...args) => {
      counts.roundTrips++;
      return original.apply(statement, args);
    };
  }
  const bind = statement.bind;
  statement.bind = (...values) => {
    entry.params = values;
    return countStatement(bind.apply(statement, values), entry);
  };
  return statement;
}

function countingD1(db) {
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "prepare")
        return (query) => {
          const entry = { sql: query, params: [] };
          statements.push(entry);
          return countStatement(target.prepare(query), entry);
        };
      if (prop === "batch" || prop === "exec") {
        return (...args) => {
          counts.roundTrips++;
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
