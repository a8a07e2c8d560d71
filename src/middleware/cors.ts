import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

type Handler = ReturnType<typeof cors>;

// One CORS handler per configuration string, built on first use in the isolate.
const handlers = new Map<string, Handler | null>();

function handlerFor(config: string | undefined): Handler | null {
  const key = config ?? "";
  if (!handlers.has(key)) {
    const origins = key
      .split(",")
      .map((origin) => origin.trim())
      .filter(Boolean);
    handlers.set(
      key,
      origins.length === 0
        ? null
        : cors({
            origin: origins.includes("*") ? "*" : origins,
            allowMethods: ["GET", "HEAD", "PUT", "POST", "DELETE"],
            allowHeaders: ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "x-d1-bookmark"],
            exposeHeaders: [
              "Location",
              "Retry-After",
              "WWW-Authenticate",
              "X-Request-Id",
              "Link",
              "RateLimit",
              "RateLimit-Policy",
              "ETag",
              "x-d1-bookmark",
              "Idempotent-Replayed",
            ],
            maxAge: 600,
          }),
    );
  }
  return handlers.get(key) ?? null;
}

/**
 * CORS for the origins listed in CORS_ORIGINS (comma-separated, or `*`); off when it is unset, so
 * browsers on other origins cannot read answers and preflights get 405 like any unknown method.
 */
export const corsPolicy = createMiddleware<AppEnv>(async (c, next) => {
  const handler = handlerFor(c.env.CORS_ORIGINS);
  if (!handler) return next();
  return handler(c, next);
});
