import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../env";

const secure = secureHeaders();

/**
 * Hono's secure headers (nosniff, no-referrer, HSTS, frame and cross-origin policies) on every
 * response, and `Cache-Control: no-store` unless a route chose otherwise: answers carry
 * organization data and must not be kept by shared caches or the browser.
 */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await secure(c, async () => {
    await next();
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  });
});
