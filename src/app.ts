import { OpenAPIHono } from "@hono/zod-openapi";
import { TrieRouter } from "hono/router/trie-router";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./errors";
import { corsPolicy } from "./middleware/cors";
import { databaseSession } from "./middleware/d1-session";
import { requestLog } from "./middleware/request-log";
import { securityHeaders } from "./middleware/security-headers";
import { validationHook } from "./middleware/validate";
import { account } from "./routes/account";
import { auditLog } from "./routes/audit-log";
import { health } from "./routes/health";
import { jwks } from "./routes/jwks";
import { organization } from "./routes/organization";
import { registration } from "./routes/registration";
import { sessions } from "./routes/sessions";
import { users } from "./routes/users";
import { verification } from "./routes/verification";

const JSON_TYPE = "application/json; charset=utf-8";

// TrieRouter is what hono's default SmartRouter ends up with for these routes anyway: it tries
// RegExpRouter first, which refuses a parameter beside a static segment registered before it
// (`/organization/{orgId}` after `/organization/users`), so each isolate's first request paid for
// that failed attempt. Named here, the routes go into the trie as they are registered.
export const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook, router: new TrieRouter() });

// First, so every answer (errors and 404s included) carries X-Request-Id and is logged.
app.use(requestLog);

// Every JSON answer, errors included, declares its charset (hono's c.json does not).
app.use(async (c, next) => {
  await next();
  if (c.res.headers.get("Content-Type") === "application/json") c.res.headers.set("Content-Type", JSON_TYPE);
});
app.use(securityHeaders);
// Before the routes, so an allowed origin's preflight is answered rather than refused with 405.
app.use(corsPolicy);
// Every request reads and writes through its own D1 session, and answers with its bookmark.
app.use(databaseSession);

// Users and the audit log first: `/organization/users` and `/organization/audit-log` must not be
// taken for `/organization/{orgId}`.
app.route("/", users);
app.route("/", auditLog);
app.route("/", organization);
app.route("/", health);
app.route("/", jwks);
app.route("/", verification);
app.route("/", sessions);
app.route("/", registration);
app.route("/", account);

app.onError(onError);
app.notFound(onNotFound);
