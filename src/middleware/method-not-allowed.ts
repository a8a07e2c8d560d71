import type { Hono } from "hono";
import { ApiError, MESSAGES } from "../errors";

/**
 * Answers every other method on `path` (OpenAPI `{param}` syntax) with 405 and an Allow header. Registered after the
 * path's routes, so only methods they do not handle reach it; it needs no authentication.
 */
export function allowOnly(app: Hono<any, any, any>, path: string, methods: string[]) {
  const allow = allowHeader(methods);
  app.all(path.replace(/\{(\w+)\}/g, ":$1"), () => {
    throw new ApiError("method_not_allowed", MESSAGES.methodNotAllowed, undefined, { Allow: allow });
  });
}

/** The Allow header of a path offering `methods`: HEAD is served wherever GET is. */
export function allowHeader(methods: string[]): string {
  return (methods.includes("GET") ? [...methods, "HEAD"] : methods).join(", ");
}
