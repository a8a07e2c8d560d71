import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";

const MAX_BODY_BYTES = 64 * 1024;

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

const limit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError("payload_too_large", MESSAGES.payloadTooLarge);
  },
});

/**
 * Gate for routes that take a JSON body: 415 unless the body is declared JSON (the json
 * validator would otherwise validate `{}` and turn a text body into a silent no-op), 400 for
 * a Content-Length that is not a number (hono's bodyLimit lets those through), 413 past 64 KiB
 * whether or not the length is declared.
 */
export const jsonBody = createMiddleware<AppEnv>(async (c, next) => {
  if (!JSON_TYPE.test(c.req.header("Content-Type") ?? "")) {
    throw new ApiError("unsupported_media_type", MESSAGES.unsupportedMediaType);
  }
  const length = c.req.header("Content-Length");
  if (length !== undefined && !/^\d+$/.test(length.trim())) throw new ApiError("bad_request", MESSAGES.badContentLength);
  return limit(c, next);
});
