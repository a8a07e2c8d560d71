import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import type { AppEnv } from "../env";
import { log } from "../log";

// CF-Ray is Cloudflare's id for the request (as in its dashboards and support tickets); outside
// Cloudflare a client could send anything there, so only a short token of that shape is taken.
const RAY = /^[A-Za-z0-9-]{1,64}$/;

/** The request's id: Cloudflare's ray id when present, otherwise a new random one. */
function requestIdOf(ray: string | undefined): string {
  return ray !== undefined && RAY.test(ray) ? ray : crypto.randomUUID();
}

/**
 * Gives every request an id, returned as `X-Request-Id` on every answer (and in error bodies as
 * `requestId`), and writes one log line per request: id, method, route pattern (never the path,
 * which holds ids a client chose), status, duration, the caller when known, the error code of a
 * refusal and the summary of an unhandled error.
 */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  const requestId = requestIdOf(c.req.header("CF-Ray"));
  c.set("requestId", requestId);
  await next();
  c.res.headers.set("X-Request-Id", requestId);
  const failure = c.get("failure");
  // After the chain ran, the route index is that of the handler that answered (not of a later match).
  const route = routePath(c);
  log({
    level: failure ? "error" : c.res.status >= 500 ? "warn" : "info",
    event: "request",
    requestId,
    method: c.req.method,
    route: route === "" || route === "/*" || route === "*" ? null : route,
    status: c.res.status,
    durationMs: Date.now() - started,
    callerId: c.get("caller")?.id,
    code: c.get("errorCode"),
    error: failure,
  });
});
