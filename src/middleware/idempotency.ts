import type { Context } from "hono";
import { decodeAnswer, type Idempotency } from "../db/idempotency";
import { users } from "../db/schema";
import { shownColumns, type ShownUser } from "../db/users";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { sha256Hex } from "../lib/sha256";

const IDEMPOTENCY_HEADER = "Idempotency-Key";
export const REPLAYED_HEADER = "Idempotent-Replayed";

// The draft's key is a structured-field string ("..."); a bare token is taken as well, as most
// clients send one. Printable ASCII without quote or backslash, at most 255 characters.
export const IDEMPOTENCY_KEY = /^(?:"[\x20\x21\x23-\x5b\x5d-\x7e]{1,255}"|[\x21\x23-\x5b\x5d-\x7e]{1,255})$/;

/**
 * The request's Idempotency-Key (its route's header schema has checked its form), with the
 * fingerprint of its method, path and `body`; undefined without one. The body's password is left
 * out by the caller, so that no record holds anything a password could be guessed from.
 */
export async function idempotencyOf(c: Context<AppEnv>, body: unknown = null): Promise<Idempotency | undefined> {
  const header = c.req.header(IDEMPOTENCY_HEADER);
  if (header === undefined) return undefined;
  const key = header.startsWith('"') ? header.slice(1, -1) : header;
  return { key, fingerprint: await sha256Hex(`${c.req.method} ${c.req.path}\n${JSON.stringify(body)}`), now: new Date() };
}

/**
 * The answer recorded for the request's key, when its verdict found one: the row it showed (null
 * for an answer without one), and the answer marked replayed. 422 when the key answered another
 * request (another path or body).
 */
export function replayOf(
  c: Context<AppEnv>,
  idempotency: Idempotency | undefined,
  answer: string | null | undefined,
): { row: ShownUser | null } | undefined {
  if (!idempotency || answer === null || answer === undefined) return undefined;
  const recorded = decodeAnswer<ShownUser>(answer, shownColumns(users));
  if (recorded.fingerprint !== idempotency.fingerprint) {
    throw new ApiError("idempotency_key_reused", MESSAGES.idempotencyKeyReused);
  }
  c.header(REPLAYED_HEADER, "true");
  return { row: recorded.row };
}
