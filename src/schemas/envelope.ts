import * as z from "../lib/zod";
import { JWKS_COOLDOWN_MS } from "../auth/jwt";
import { RESEND_WINDOW_MS } from "../db/invitations";
import { MESSAGES } from "../errors";
import { allowHeader } from "../middleware/method-not-allowed";
import { LONGEST_WINDOW_SECONDS } from "../middleware/rate-limit";
import { errorResponse, responseHeaders, wire } from "./common";

export function envelope<T extends z.ZodType>(data: T, message?: string) {
  return z.strictObject({
    success: z.literal(true),
    data,
    ...(message ? { message: wire.text(500).openapi({ example: message }) } : {}),
  });
}

export function jsonContent<T extends z.ZodType>(
  schema: T,
  description: string,
  example: unknown,
  headers: Record<string, z.ZodType> = {},
) {
  return { description, headers: responseHeaders(headers), content: { "application/json": { schema, example } } };
}

/** A documented success: the envelope around `data`, with an example body. */
export function successResponse<T extends z.ZodType>(
  description: string,
  data: T,
  dataExample: unknown,
  message?: string,
  headers: Record<string, z.ZodType> = {},
) {
  return jsonContent(
    envelope(data, message),
    description,
    { success: true, data: dataExample, ...(message ? { message } : {}) },
    headers,
  );
}

/** A documented success without data: `{ success, message }` (Flashback's ActionResponse). */
export function actionResponse(description: string, message: string, headers: Record<string, z.ZodType> = {}) {
  return jsonContent(
    z.strictObject({ success: z.literal(true), message: wire.text(500).openapi({ example: message }) }),
    description,
    { success: true, message },
    headers,
  );
}

export function jsonBodyOf<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

export const bearer = [{ bearerAuth: [] }];

const retryAfter = (max: number, description: string) => ({ "Retry-After": wire.integer(1, max).openapi({ description }) });

/** The answer to a method the path does not offer (`methods` are those it does), documented on each of its operations. */
export function methodNotAllowed(methods: string[]) {
  return errorResponse(
    "The path does not offer the request's method (any method but those documented for it)",
    "method_not_allowed",
    MESSAGES.methodNotAllowed,
    { Allow: wire.text(100).openapi({ description: "The methods the path offers", example: allowHeader(methods) }) },
  );
}

const rateLimit = {
  RateLimit: wire.text(100).openapi({
    description:
      "The policy that refused the request, with nothing remaining (`r=0`) and the seconds until a retry can succeed (`t`), draft-ietf-httpapi-ratelimit-headers",
    pattern: '^"[a-z-]+";r=0;t=[0-9]+$',
    example: '"requests";r=0;t=60',
  }),
};

/** The 429 of an operation limited per caller, per client address or per account (`description` says which). */
export function rateLimitedBecause(description: string) {
  return errorResponse(description, "rate_limited", MESSAGES.rateLimited, {
    ...retryAfter(LONGEST_WINDOW_SECONDS, "Seconds to wait before retrying"),
    ...rateLimit,
  });
}

/** The 429 of an operation that also limits the invitations sent per hour (src/invitations/limit.ts). */
export function invitationsLimited(description: string) {
  return errorResponse(description, "rate_limited", MESSAGES.tooManyInvitations, {
    ...retryAfter(RESEND_WINDOW_MS / 1000, "Seconds to wait before retrying"),
    ...rateLimit,
  });
}

export const rateLimited = rateLimitedBecause("Too many requests from this caller");

// The same on every authenticated operation, so built once rather than once per operation.
const authenticatedErrors = {
  400: errorResponse("Invalid input", "validation_failed", "Validation failed: email: Invalid email address"),
  401: errorResponse("Missing, invalid or expired token", "unauthorized", MESSAGES.unauthorized, {
    "WWW-Authenticate": wire.text(100).openapi({
      description: 'The Bearer challenge (RFC 6750), with error="invalid_token" when a token was sent',
      example: 'Bearer error="invalid_token"',
    }),
  }),
  429: rateLimited,
  500: errorResponse("Unexpected failure; nothing was written", "internal_error", MESSAGES.internal),
  503: errorResponse(
    "The identity provider's keys could not be loaded yet (RS256/ES256 with JWT_JWKS_URL); nothing was read or written",
    "service_unavailable",
    MESSAGES.serviceUnavailable,
    retryAfter(JWKS_COOLDOWN_MS / 1000, "Seconds until the key set is fetched again"),
  ),
};

/** What every authenticated operation can answer besides its own outcomes; 403 carries the route's own message. */
export function errorResponses(forbidden: string, forbiddenWhen = "The caller's role is too low") {
  return {
    ...authenticatedErrors,
    403: errorResponse(
      `${forbiddenWhen}; or (\`email_not_verified\`) the caller has not verified their address`,
      "forbidden",
      forbidden,
    ),
  };
}

export const bodyErrorResponses = {
  413: errorResponse("Body larger than 64 KiB", "payload_too_large", MESSAGES.payloadTooLarge),
  415: errorResponse("Body is not JSON", "unsupported_media_type", MESSAGES.unsupportedMediaType),
};
