import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { errorClass, log } from "../log";

// The period of the RATE_LIMITER and AUTH_RATE_LIMITER bindings in wrangler.toml (the binding allows 10 or 60).
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/** The key of a caller without a valid token: the client address Cloudflare reports. */
export function clientKey(c: Context<AppEnv>): string {
  return `ip:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
}

/**
 * Counts one request against `key` (Workers rate-limiting binding) and refuses it with 429 and
 * Retry-After past the limit. Without the binding, or if it fails, requests pass: the limiter
 * protects capacity, it is not a security boundary.
 */
export async function enforceRateLimit(c: Context<AppEnv>, key: string, limiter = c.env.RATE_LIMITER): Promise<void> {
  if (!limiter) return;
  let allowed = true;
  try {
    allowed = (await limiter.limit({ key })).success;
  } catch (error) {
    log({ level: "warn", event: "rate_limiter_unavailable", requestId: c.get("requestId"), error: { class: errorClass(error) } });
  }
  if (!allowed) {
    throw new ApiError("rate_limited", MESSAGES.rateLimited, undefined, { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) });
  }
}

/** Rate-limits public routes by client address. */
export const limitByClient = createMiddleware<AppEnv>(async (c, next) => {
  await enforceRateLimit(c, clientKey(c));
  await next();
});

/**
 * Rate-limits the unauthenticated credential routes (email verification) by client address, on
 * their own tighter limit: a token cannot be guessed, but each attempt may cost a password hash.
 */
export const limitCredentialsByClient = createMiddleware<AppEnv>(async (c, next) => {
  await enforceRateLimit(c, clientKey(c));
  await enforceRateLimit(c, clientKey(c), c.env.AUTH_RATE_LIMITER);
  await next();
});
