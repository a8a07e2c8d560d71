import { createMiddleware } from "hono/factory";
import { nameWriter } from "../db/audit";
import { openSession } from "../db/client";
import type { AppEnv, Bindings } from "../env";

export const BOOKMARK_HEADER = "x-d1-bookmark";

// D1's bookmarks are four hex fields (8-8-8-32). Anything else a client sends is ignored: the
// request then starts as though it had sent none.
export const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
export const BOOKMARK_EXAMPLE = "00000001-0000000a-00004e2f-0d4a3fe8d8e1d3d7b4cd6a1e0a0f3c5c";

// Sign-in checks a password, and refresh a refresh token, read before the write that opens or
// rotates the session: read from a lagging replica, a password changed or a token revoked moments
// ago would still open one. These start at the primary.
const CHECKED_ON_PRIMARY = new Set(["/user/login", "/user/refresh"]);

/**
 * Where a request's D1 session starts (D1's Sessions API): from the bookmark the client sent, so
 * that it reads at least what it last saw (its own writes included), or else at the nearest replica.
 * A deployment that sets `D1_FIRST_QUERY=first-primary` starts every request at the primary
 * instead, bookmark or not: revocations then take effect at once on reads too, at the price of
 * the primary's distance.
 */
function sessionStart(env: Bindings, bookmark: string | undefined, path: string): string {
  if (env.D1_FIRST_QUERY?.trim() === "first-primary" || CHECKED_ON_PRIMARY.has(path)) return "first-primary";
  return bookmark !== undefined && BOOKMARK.test(bookmark) ? bookmark : "first-unconstrained";
}

/**
 * Opens the request's D1 session (writes go to the primary whatever the start) and answers with
 * its latest bookmark in `x-d1-bookmark`, for the client to send with its next request.
 */
export const databaseSession = createMiddleware<AppEnv>(async (c, next) => {
  const { db, session } = openSession(c.env.DB, sessionStart(c.env, c.req.header(BOOKMARK_HEADER), c.req.path));
  c.set("db", db);
  // For the audit log: the caller once authenticated (or the account signing in), this request, its client.
  nameWriter(db, () => ({
    actorId: c.get("actorId") ?? c.get("caller")?.id ?? null,
    requestId: c.get("requestId"),
    clientAddress: c.req.header("CF-Connecting-IP") ?? null,
  }));
  await next();
  const bookmark = session.getBookmark();
  if (bookmark !== null) c.res.headers.set(BOOKMARK_HEADER, bookmark);
});
