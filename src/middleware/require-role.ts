import { createMiddleware } from "hono/factory";
import { hasRole, type Role } from "../auth/roles";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

/** Refuses callers below `minimum` with the route's own message. Runs after `authenticate`. */
export function requireRole(minimum: Role, message: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!hasRole(c.get("caller").role, minimum)) throw new ApiError("forbidden", message);
    await next();
  });
}
