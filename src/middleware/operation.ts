import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import type { Context } from "hono";
import { documentedRole, POLICIES, refusal, type OperationId, type Policy, type Reason } from "../auth/policy";
import { verdictOf } from "../db/verdict";
import type { AppEnv } from "../env";
import { ApiError, onError } from "../errors";
import { authenticate } from "./authenticate";
import { refuseEmptyParameterNames } from "./validate";

// Refusals of the request (400, 413, 415, a missing If-Match's 428) that come before an
// operation's batch ran. The contract answers the caller's own refusals (401, 403) first, so for
// these alone the caller's part of the verdict is read, in one statement: still one round trip.
const INPUT_STATUSES = new Set([400, 413, 415, 428]);

function answerCallerFirst(policy: Policy) {
  return createMiddleware<AppEnv>(async (c, next) => {
    await next();
    // Hono's own body parsing fails with an HTTPException (malformed JSON), ours with an ApiError.
    const error = c.error;
    const status = error instanceof ApiError || error instanceof HTTPException ? error.status : undefined;
    if (status === undefined || !INPUT_STATUSES.has(status) || c.get("judged")) return;
    const caller = c.get("caller");
    const [seen] = await verdictOf(policy, { caller }, { callerOnly: true }).read(c.var.db, {}).limit(1);
    const refused = refusal(policy, seen?.verdict);
    if (refused) c.res = onError(refused, c);
  });
}

/**
 * An operation's policy with what its route needs: the document's `x-required-role` and the
 * middleware (authentication, which reads nothing, then the query's parameter names).
 */
export function operation(id: OperationId) {
  const policy: Policy = POLICIES[id];
  return {
    policy,
    documented: documentedRole(policy),
    middleware: [authenticate, answerCallerFirst(policy), refuseEmptyParameterNames],
  };
}

export type Operation = ReturnType<typeof operation>;

/**
 * Takes the verdict an operation's batch read: past this point the request's refusals are the
 * operation's own. Throws the verdict's refusal, if any.
 */
export function admit(c: Context<AppEnv>, op: Operation, verdict: Reason | undefined): void {
  c.set("judged", true);
  const refused = refusal(op.policy, verdict);
  if (refused) throw refused;
}
