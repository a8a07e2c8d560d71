import { createMiddleware } from "hono/factory";
import { hasRole, ROLE, type Role, type RoleName } from "../auth/roles";
import type { CallerNow } from "../db/caller";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requiredRole } from "../openapi";
import { authenticate, invalidToken } from "./authenticate";
import { refuseEmptyParameterNames } from "./validate";

/** Refuses callers below `minimum` with the route's own message. Runs after `authenticate`. */
export function requireRole(minimum: Role, message: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!hasRole(c.get("caller").role, minimum)) throw new ApiError("forbidden", message);
    await next();
  });
}

/**
 * An operation's minimum role, stated once: the route's middleware (authentication, then the role
 * as authenticated, then the query's parameter names), its `x-required-role` in the document, and
 * the rank its write re-checks.
 */
export function operationRole(name: RoleName, forbidden: string) {
  const minimum = ROLE[name];
  return {
    minimum,
    forbidden,
    documented: requiredRole(name),
    middleware: [authenticate, requireRole(minimum, forbidden), refuseEmptyParameterNames],
  };
}

export type OperationRole = ReturnType<typeof operationRole>;

/**
 * Why a refused write's caller was refused, from the caller as the write saw them: no longer a valid
 * caller (401, as authentication would answer now), or below the operation's role (403). Undefined
 * when the caller still qualifies and the refusal lies elsewhere.
 */
export function callerRefusal(seen: CallerNow | undefined, operation: OperationRole): ApiError | undefined {
  if (!seen?.valid) return invalidToken();
  if (!hasRole(seen.role, operation.minimum)) return new ApiError("forbidden", operation.forbidden);
  return undefined;
}
