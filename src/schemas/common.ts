import * as z from "../lib/zod";
import { ERROR_STATUS, MAX_DETAILS, MESSAGES, PROBLEM_TYPE, STATUS_TITLES } from "../errors";
import { ENTITY_TAG_LIST } from "../lib/etag";
import { BOOKMARK, BOOKMARK_EXAMPLE } from "../middleware/d1-session";
import { IDEMPOTENCY_KEY, REPLAYED_HEADER } from "../middleware/idempotency";
import { isRole, ROLE_VALUES, type Role } from "../auth/roles";

// Any well-formed UUID, whatever its version: an id that cannot exist is simply not found.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// C0 controls (NUL included), DEL and unpaired UTF-16 surrogates cannot round-trip through
// storage unchanged, so text fields refuse them rather than store something else.
const UNSTORABLE = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// The same rule as JSON Schema patterns, for the document.
export const PRINTABLE_PATTERN = "^[^\\u0000-\\u001F\\u007F]*$";
const UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

export const uuid = z
  .string()
  .transform((value) => value.toLowerCase())
  .refine((value) => UUID.test(value), MESSAGES.malformedId)
  .openapi({
    type: "string",
    format: "uuid",
    pattern: UUID_PATTERN,
    maxLength: 36,
    example: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f",
  });

/**
 * Field types of responses (response objects are strict, so the document closes them: a field it
 * does not list, such as a leaked hash, breaks the contract). The server produces these values, so the bounds are documented
 * rather than checked: ids and timestamps in their formats, text within the limits writes enforce.
 */
export const wire = {
  id: z.string().max(36).openapi({ format: "uuid" }),
  timestamp: z.string().max(24).openapi({ format: "date-time" }),
  email: z.string().max(254).openapi({ format: "email" }),
  text: (max: number) => z.string().max(max).openapi({ pattern: PRINTABLE_PATTERN }),
  integer: (min: number, max: number) => z.number().int().min(min).max(max).openapi({ format: "int32" }),
};

export const roleValue = wire.integer(0, 255).openapi({ enum: ROLE_VALUES });

/** A string's length in Unicode code points, as JSON Schema's minLength and maxLength count it. */
export function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

/** Trimmed text of `min`..`max` characters (Unicode code points, as JSON Schema counts them). */
export function text(min: number, max: number) {
  return z
    .string()
    .transform((value) => value.trim())
    .refine((value) => !UNSTORABLE.test(value), "Must not contain control characters or unpaired surrogates")
    .refine((value) => codePoints(value) >= min, min === 1 ? "Must not be empty" : `Must be at least ${min} characters`)
    .refine((value) => codePoints(value) <= max, `Must be at most ${max} characters`)
    .openapi({ type: "string", minLength: min, maxLength: max, pattern: PRINTABLE_PATTERN });
}

/** Optional text that may be cleared: null, or an empty string after trimming, stores null. */
export function clearableText(max: number) {
  return text(0, max)
    .transform((value) => (value === "" ? null : value))
    .nullable()
    .openapi({ type: ["string", "null"], maxLength: max, pattern: PRINTABLE_PATTERN });
}

export const role = z
  .number({ error: MESSAGES.invalidRole })
  .refine((value) => isRole(value), MESSAGES.invalidRole)
  .transform((value) => value as Role)
  .openapi({
    type: "integer",
    format: "int32",
    minimum: 0,
    maximum: 255,
    enum: ROLE_VALUES,
    description: "0 USER, 1 BILLING, 2 WORKSPACES, 254 ADMINISTRATOR, 255 OWNER",
  });

/**
 * A partial-update body: at least one field, so `{}` is refused as the document says
 * (`minProperties: 1`) with 400 "No valid fields to update" (see the validation hook).
 */
export function partialUpdate<T extends z.ZodObject>(schema: T): T {
  return schema.refine((body) => Object.keys(body).length > 0, MESSAGES.noFields).openapi({ minProperties: 1 }) as T;
}

export const booleanQuery = z.enum(["true", "false"]).transform((value) => value === "true");

const errorCode = z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]]);

const ErrorSchema = z
  .strictObject({
    success: z.literal(false),
    data: z.null(),
    message: wire.text(500),
    code: errorCode,
    requestId: wire
      .text(64)
      .openapi({ description: "The request's id, also sent as X-Request-Id; quote it when reporting a problem" }),
    details: z
      .array(z.strictObject({ path: wire.text(300), message: wire.text(500) }))
      .max(MAX_DETAILS)
      .optional(),
  })
  .openapi("Error");

const ProblemSchema = z
  .strictObject({
    type: z.literal("about:blank").openapi({ description: "The status says what kind of problem it is; `code` refines it" }),
    title: z.enum(Object.values(STATUS_TITLES) as [string, ...string[]]).openapi({ description: "The status's reason phrase" }),
    status: wire.integer(400, 599).openapi({ enum: [...new Set(Object.values(ERROR_STATUS))].sort() }),
    detail: wire.text(500).openapi({ description: "What went wrong, as the envelope's `message`" }),
    instance: wire.text(64).openapi({ description: "The request's id, also sent as X-Request-Id" }),
    code: errorCode,
    errors: z
      .array(
        z.strictObject({
          detail: wire.text(500),
          pointer: wire.text(2000).openapi({ description: "RFC 6901 JSON Pointer to the field, within the part named by `in`" }),
          in: z.enum(["body", "query", "path", "header"]),
        }),
      )
      .max(MAX_DETAILS)
      .optional()
      .openapi({ description: "The refused fields, as the envelope's `details`" }),
  })
  .openapi("Problem", {
    description: "RFC 9457 problem details: the error of a request whose Accept prefers application/problem+json",
  });

const REQUEST_ID_EXAMPLE = "0196f1b2-7c3a-4d4e-8f10-2a3b4c5d6e7f";

// Built once: every answer of every operation documents these, and schemas built at module load
// are what a fresh isolate spends its start on.
const STANDARD_HEADERS = z.object({
  "X-Request-Id": wire
    .text(64)
    .openapi({ description: "The request's id: Cloudflare's CF-Ray when present, else a random UUID" }),
  "Access-Control-Allow-Origin": wire
    .text(200)
    .optional()
    .openapi({ description: "Present when CORS_ORIGINS allows the request's Origin" }),
  "x-d1-bookmark": wire.text(59).optional().openapi({
    description:
      "The request's D1 session bookmark, once it read or wrote: send it with the next request to read at least what this one saw or wrote, from any region",
    pattern: BOOKMARK.source,
    example: BOOKMARK_EXAMPLE,
  }),
  "RateLimit-Policy": wire.text(200).optional().openapi({
    description:
      "The rate limits that counted the request, on every answer it was counted for (draft-ietf-httpapi-ratelimit-headers): each one's quota `q` per window of `w` seconds, as deployed",
    pattern: '^"[a-z-]+";q=[0-9]+;w=[0-9]+(, "[a-z-]+";q=[0-9]+;w=[0-9]+)*$',
    example: '"requests";q=600;w=60',
  }),
});

/**
 * The headers of a documented answer: `X-Request-Id` on every one, `Access-Control-Allow-Origin`
 * when CORS allows the caller's origin, and the answer's own (`extra`).
 */
export function responseHeaders(extra: Record<string, z.ZodType> = {}) {
  return Object.keys(extra).length === 0 ? STANDARD_HEADERS : z.object({ ...STANDARD_HEADERS.shape, ...extra });
}

const VARY_ACCEPT = {
  Vary: wire.text(200).openapi({ description: "Includes Accept: the error's form follows it", example: "Accept" }),
};

/**
 * A documented error status: its headers, and its body in both forms, the envelope (`Error`) and,
 * for a client whose Accept prefers it, RFC 9457 problem details (`Problem`), each with an example.
 */
export function errorResponse(
  description: string,
  code: keyof typeof ERROR_STATUS,
  message: string,
  headers: Record<string, z.ZodType> = {},
) {
  const status = ERROR_STATUS[code];
  return {
    description,
    headers: responseHeaders({ ...VARY_ACCEPT, ...headers }),
    content: {
      "application/json": {
        schema: ErrorSchema,
        example: { success: false, data: null, message, code, requestId: REQUEST_ID_EXAMPLE },
      },
      [PROBLEM_TYPE]: {
        schema: ProblemSchema,
        example: {
          type: "about:blank",
          title: STATUS_TITLES[status],
          status,
          detail: message,
          instance: REQUEST_ID_EXAMPLE,
          code,
        },
      },
    },
  };
}

/** The query of an operation that takes no parameters: any parameter is unknown (400). */
export const noQuery = z.strictObject({});

export const idParams = z.object({ userId: uuid.openapi({ param: { name: "userId", in: "path" } }) });

// Conditional requests (RFC 9110 §13, src/lib/etag.ts): `*`, or a list of entity tags. A value of
// another form is refused (400) rather than read as naming no tag.
const entityTags = (description: string) =>
  z
    .string()
    .max(1000)
    .regex(ENTITY_TAG_LIST, 'Must be * or a list of entity tags, as "3"')
    .optional()
    .openapi({ description, example: '"3"' });

export const ifNoneMatchHeaders = z.object({
  "if-none-match": entityTags("An ETag this client holds: 304 without a body while it is still the current one"),
});

export const ifMatchHeaders = z.object({
  "if-match": entityTags(
    "The ETag of the version this client read: the update is made only while it is still the current one (412 otherwise). Required when the deployment sets REQUIRE_IF_MATCH (428 without it)",
  ),
});

/** The ETag header of an answer that shows a row: its version, a strong tag. */
export const etagHeader = {
  ETag: wire
    .text(20)
    .openapi({ description: "The row's version, a strong entity tag: send it in If-Match or If-None-Match", example: '"3"' }),
};

/** 304 to a GET whose If-None-Match names the current ETag: no body. */
export const notModified = {
  description: "The ETag in If-None-Match is still the current one: no body",
  headers: responseHeaders(etagHeader),
};

/** 412 and 428 of an update that honours If-Match. */
export const preconditionResponses = {
  412: errorResponse(
    "If-Match names no current ETag of the row: it changed since it was read; nothing was written",
    "precondition_failed",
    MESSAGES.preconditionFailed,
  ),
  428: errorResponse(
    "No If-Match, and the deployment requires it (REQUIRE_IF_MATCH); nothing was written",
    "precondition_required",
    MESSAGES.preconditionRequired,
  ),
};

// Idempotency keys (src/middleware/idempotency.ts): a retry with the key gets the first answer.
export const idempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .max(257)
    .regex(IDEMPOTENCY_KEY, "Must be a string of 1 to 255 printable ASCII characters, quoted or not")
    .optional()
    .openapi({
      description:
        "A key unique to this request, kept with its answer for 24 hours: a retry with the key (same path and body; the password is not compared) gets that answer again and does nothing. A key of this caller's that answered another request is refused (422). Only answered work is kept: a refused request can be retried with its key",
      example: '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
    }),
});

/** The header of an answer given again for its Idempotency-Key. */
export const replayedHeader = {
  [REPLAYED_HEADER]: z
    .literal("true")
    .optional()
    .openapi({ description: "The answer recorded for this Idempotency-Key, given again: nothing was done", example: "true" }),
};

/** 422 of a write that takes an Idempotency-Key. */
export const idempotencyResponses = {
  422: errorResponse(
    "The Idempotency-Key answered another request of this caller (another path or body) in the past 24 hours; nothing was done",
    "idempotency_key_reused",
    MESSAGES.idempotencyKeyReused,
  ),
};

/** The Link header of a page that has a next one (src/lib/cursor.ts nextPageLink), with an example path. */
export const nextLinkHeader = (examplePath: string) => ({
  Link: wire
    .text(2048)
    .optional()
    .openapi({
      description: 'RFC 8288: the next page, `<URL>; rel="next"`, on every page that has one',
      example: `<https://api.example${examplePath}>; rel="next"`,
    }),
});
