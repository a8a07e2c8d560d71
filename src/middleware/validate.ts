import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type * as z from "zod";
import { ApiError, fieldProblem, MESSAGES, type FieldProblem } from "../errors";

type HookResult = { success: true } | { success: false; error: z.ZodError; target: string };

// Field names come from the client: echo them printable and bounded.
const clip = (text: string) => text.replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 200);

// RFC 6901: "~" and "/" within a name are escaped.
const pointerOf = (segments: PropertyKey[]) =>
  segments.map((segment) => `/${clip(String(segment)).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");

const PART: Record<string, FieldProblem["in"]> = { json: "body", query: "query", param: "path", header: "header" };

function problems(error: z.ZodError, target: string): FieldProblem[] {
  const part = PART[target] ?? "body";
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String).join(".");
    // Name every unknown field, so a client sees exactly what was refused.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: clip(base ? `${base}.${key}` : key),
        message: "Unknown field",
        pointer: pointerOf([...issue.path, key]),
        in: part,
      }));
    }
    return [{ path: clip(base), message: clip(issue.message), pointer: pointerOf(issue.path), in: part }];
  });
}

/**
 * The one place validation failures become API errors (the zod-validator hook): malformed
 * path ids are 400 bad_request, a body that is not an object is 400 bad_request, anything
 * else is 400 validation_failed with the field problems listed.
 */
export function validationHook(result: HookResult, _c: Context): void {
  if (result.success) return;
  const details = problems(result.error, result.target);
  if (result.target === "param") throw new ApiError("bad_request", MESSAGES.malformedId, details);
  // `{}` on a partial update (see partialUpdate): the contract's own message. zod also runs that
  // check after refusing an unknown field, whose problem then comes first.
  if (result.error.issues.every((issue) => issue.message === MESSAGES.noFields)) {
    throw new ApiError("bad_request", MESSAGES.noFields);
  }
  if (result.target === "json" && result.error.issues.some((issue) => issue.path.length === 0 && issue.code === "invalid_type")) {
    throw new ApiError("bad_request", MESSAGES.bodyNotObject, details);
  }
  if (result.error.issues.some((issue) => issue.message === MESSAGES.invalidRole)) {
    throw new ApiError("validation_failed", MESSAGES.invalidRole, details);
  }
  const first = details[0];
  throw new ApiError(
    "validation_failed",
    first ? `${MESSAGES.validation}: ${first.path || "body"}: ${first.message}` : MESSAGES.validation,
    details,
  );
}

/**
 * Refuses a query parameter with an empty name (`?=x`): the query validator never sees it (it is
 * dropped while the query is parsed), yet unknown parameters are refused everywhere else. Runs
 * where the route's own query validation would, after authentication and the role.
 */
export const refuseEmptyParameterNames = createMiddleware(async (c, next) => {
  // The query is what follows the first "?" before any fragment: no URL to parse.
  const hash = c.req.url.indexOf("#");
  const url = hash < 0 ? c.req.url : c.req.url.slice(0, hash);
  const at = url.indexOf("?");
  const query = at < 0 ? "" : url.slice(at + 1);
  if (query.split("&").some((part) => part !== "" && part.split("=")[0] === "")) {
    throw new ApiError("validation_failed", `${MESSAGES.validation}: a query parameter has an empty name`, [
      fieldProblem("query", "", "Unknown field"),
    ]);
  }
  await next();
});
