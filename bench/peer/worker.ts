// The peer: better-auth with its organization plugin, served as a Worker on a D1 database of its
// own, through better-auth's Drizzle adapter (provider "sqlite") over drizzle-orm/d1. Built by
// wrangler from wrangler.toml here, into the benchmark's temporary directory; nothing of it
// reaches the API's bundle. Every request goes to better-auth's own handler under /api/auth.
import { betterAuth } from "better-auth";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { drizzle } from "drizzle-orm/d1";
import { peerOptions } from "./options";
import * as schema from "./schema";

// better-auth and better-call print an unexpected error whole: for list-members' page of 100
// (compare.ts, PEER_PAGE) a failed query with its 101 bound values, twice. One line each is enough.
const printError = console.error.bind(console);
const oneLine = (value: unknown) =>
  value instanceof Error
    ? `${value.message.split("\n")[0]?.slice(0, 160)}${value.cause instanceof Error ? ` (${value.cause.message})` : ""}`
    : String(value).split("\n")[0];
console.error = (...values: unknown[]) => printError(`[peer] ${values.map(oneLine).join(" ")}`);

type Env = { DB: D1Database; BETTER_AUTH_SECRET: string; BETTER_AUTH_URL: string };

const createAuth = (env: Env) =>
  betterAuth({
    ...peerOptions,
    baseURL: env.BETTER_AUTH_URL,
    secret: env.BETTER_AUTH_SECRET,
    database: drizzleAdapter(drizzle(env.DB, { schema }), { provider: "sqlite", schema }),
  });

// Built once per isolate and reused (its best case), rather than once per request.
let auth: ReturnType<typeof createAuth> | undefined;

export default {
  fetch(request, env) {
    auth ??= createAuth(env);
    return auth.handler(request);
  },
} satisfies ExportedHandler<Env>;
