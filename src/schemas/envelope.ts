import { z } from "@hono/zod-openapi";
import { JWKS_COOLDOWN_MS } from "../auth/jwt";
import { MESSAGES } from "../errors";
import { errorResponse, wire } from "./common";

export function envelope<T extends z.ZodType>(data: T, message?: string) {
  return z.strictObject({
    success: z.literal(true),
    data,
    ...(message ? { message: wire.text(500).openapi({ example: message }) } : {}),
  });
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string, example: unknown) {
  return { description, content: { "application/json": { schema, example } } };
}

/** A documented success: the envelope around `data`, with an example body. */
export function successResponse<T extends z.ZodType>(description: string, data: T, dataExample: unknown, message?: string) {
  return jsonContent(envelope(data, message), description, {
    success: true,
    data: dataExample,
    ...(message ? { message } : {}),
  });
}

export function jsonBodyOf<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

export const bearer = [{ bearerAuth: [] }];

// Documented on the answers that carry headers of their own (spectral's OWASP rules ask for it).
const allowOrigin = wire.text(200).optional().openapi({ description: "Present when CORS_ORIGINS allows the request's Origin" });

/** What every operation can answer besides its own outcomes; 403 carries the route's own message. */
export function errorResponses(forbidden: string, forbiddenWhen = "The caller's role is too low") {
  return {
    400: errorResponse("Invalid input", "validation_failed", "Validation failed: email: Invalid email address"),
    401: errorResponse("Missing, invalid or expired token", "unauthorized", MESSAGES.unauthorized),
    403: errorResponse(forbiddenWhen, "forbidden", forbidden),
    429: {
      ...errorResponse("Too many requests from this caller", "rate_limited", MESSAGES.rateLimited),
      headers: z.object({
        "Retry-After": wire.integer(1, 60).openapi({ description: "Seconds to wait before retrying" }),
        "Access-Control-Allow-Origin": allowOrigin,
      }),
    },
    500: errorResponse("Unexpected failure; nothing was written", "internal_error", MESSAGES.internal),
    503: {
      ...errorResponse(
        "The identity provider's keys could not be loaded yet (RS256/ES256 with JWT_JWKS_URL); nothing was read or written",
        "service_unavailable",
        MESSAGES.serviceUnavailable,
      ),
      headers: z.object({
        "Retry-After": wire
          .integer(1, JWKS_COOLDOWN_MS / 1000)
          .openapi({ description: "Seconds until the key set is fetched again" }),
        "Access-Control-Allow-Origin": allowOrigin,
      }),
    },
  };
}

export const bodyErrorResponses = {
  413: errorResponse("Body larger than 64 KiB", "payload_too_large", MESSAGES.payloadTooLarge),
  415: errorResponse("Body is not JSON", "unsupported_media_type", MESSAGES.unsupportedMediaType),
};
