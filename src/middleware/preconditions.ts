import type { Context } from "hono";
import type { AppEnv, Bindings } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { entityTag, ifMatchVersions, noneMatchMeets } from "../lib/etag";

/** Whether the deployment refuses an update without If-Match (`REQUIRE_IF_MATCH`; off by default, as Flashback's client sends none). */
function requiresIfMatch(env: Bindings): boolean {
  return env.REQUIRE_IF_MATCH?.trim().toLowerCase() === "true";
}

/**
 * The versions an update's If-Match accepts, for its verdict to check in the write's own statement
 * (412 when the row has moved on); undefined when it sets no condition. 428 when the deployment
 * requires the header and it is missing.
 */
export function ifMatchOf(c: Context<AppEnv>): number[] | undefined {
  const value = c.req.header("If-Match");
  if (value === undefined && requiresIfMatch(c.env)) throw new ApiError("precondition_required", MESSAGES.preconditionRequired);
  return ifMatchVersions(value);
}

/** Tags the answer with the row's ETag; true when the request's If-None-Match already names it (answer 304). */
export function tagAnswer(c: Context<AppEnv>, version: number): boolean {
  c.header("ETag", entityTag(version));
  return noneMatchMeets(c.req.header("If-None-Match"), version);
}
