import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv, Bindings } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { errorClass, log } from "../log";

type LimiterName = "RATE_LIMITER" | "AUTH_RATE_LIMITER" | "LOGIN_RATE_LIMITER";

/**
 * Each limiter's quota policy, as its binding is configured in wrangler.toml (a Worker cannot read
 * a binding's configuration; test/unit/rate-limit-policy.test.ts holds the two equal). `name` is
 * what RateLimit-Policy calls it; the binding allows a period of 10 or 60 seconds.
 */
export const LIMIT_POLICIES = {
  RATE_LIMITER: { name: "requests", quota: 600, windowSeconds: 60 },
  AUTH_RATE_LIMITER: { name: "credentials", quota: 20, windowSeconds: 60 },
  LOGIN_RATE_LIMITER: { name: "sign-in", quota: 10, windowSeconds: 60 },
} as const satisfies Record<LimiterName, { name: string; quota: number; windowSeconds: number }>;

/** The longest window: the most a refused caller may have to wait. */
export const LONGEST_WINDOW_SECONDS = Math.max(...Object.values(LIMIT_POLICIES).map((p) => p.windowSeconds));

/** The key of a caller without a valid token: the client address Cloudflare reports. */
export function clientKey(c: Context<AppEnv>): string {
  return `ip:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
}

/**
 * Counts one request against `key` on the limiter `name` (a Workers rate-limiting binding) and
 * refuses it with 429 past the limit. Every answer it counted says so in `RateLimit-Policy`
 * (draft-ietf-httpapi-ratelimit-headers: the quota and its window); a refusal adds `RateLimit`
 * with nothing remaining and `Retry-After`. The binding does not tell what remains of a quota, so
 * no other answer claims to know. Without the binding, or if it fails, requests pass: the limiter
 * protects capacity, it is not a security boundary.
 */
export async function enforceRateLimit(c: Context<AppEnv>, key: string, name: LimiterName = "RATE_LIMITER"): Promise<void> {
  const limiter: Bindings[LimiterName] = c.env[name];
  if (!limiter) return;
  const policy = LIMIT_POLICIES[name];
  c.header("RateLimit-Policy", `"${policy.name}";q=${policy.quota};w=${policy.windowSeconds}`, { append: true });
  let allowed = true;
  try {
    allowed = (await limiter.limit({ key })).success;
  } catch (error) {
    log({ level: "warn", event: "rate_limiter_unavailable", requestId: c.get("requestId"), error: { class: errorClass(error) } });
  }
  if (!allowed) {
    // The binding's window is not aligned to anything the Worker can see: its length bounds the wait.
    const wait = String(policy.windowSeconds);
    throw new ApiError("rate_limited", MESSAGES.rateLimited, undefined, {
      "Retry-After": wait,
      RateLimit: `"${policy.name}";r=0;t=${wait}`,
    });
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
  await enforceRateLimit(c, clientKey(c), "AUTH_RATE_LIMITER");
  await next();
});
