import * as z from "zod";
import type { Bindings } from "../env";

// How invitations are delivered, from the Worker's variables (wrangler.toml [vars]).

// A link carries its token: https, except to this machine for local development.
const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])$/;

const schema = z.object({
  APP_URL: z.url({ protocol: /^https?$/, error: "APP_URL must be an http(s) URL" }).refine((url) => {
    const parsed = URL.parse(url);
    return parsed !== null && (parsed.protocol === "https:" || LOCAL_HOST.test(parsed.hostname));
  }, "APP_URL must be an https URL (http only for localhost)"),
  EMAIL_FROM: z.email({ error: "EMAIL_FROM must be an email address" }),
  VERIFICATION_TOKEN_TTL_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30, "at most 30 days")
    .default(24),
});

export type DeliveryConfig = { verifyUrl: URL; from: string; tokenTtlMs: number };

/** The delivery configuration; throws with every problem listed when it is unusable. */
export function deliveryConfig(env: Bindings): DeliveryConfig {
  const parsed = schema.safeParse({
    APP_URL: env.APP_URL,
    EMAIL_FROM: env.EMAIL_FROM,
    VERIFICATION_TOKEN_TTL_HOURS: env.VERIFICATION_TOKEN_TTL_HOURS || undefined,
  });
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return {
    verifyUrl: new URL(`${parsed.data.APP_URL.replace(/\/+$/, "")}/verify-email`),
    from: parsed.data.EMAIL_FROM,
    tokenTtlMs: parsed.data.VERIFICATION_TOKEN_TTL_HOURS * 3_600_000,
  };
}

/** Whether callers must have verified their address (default); "false" leaves that to an identity provider. */
export function requiresVerifiedEmail(env: Bindings): boolean {
  return env.REQUIRE_VERIFIED_EMAIL?.trim().toLowerCase() !== "false";
}
