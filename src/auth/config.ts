import * as z from "zod";
import type { Bindings } from "../env";

// The auth configuration: which tokens are accepted and, when this service issues its own, what
// signs them. Read from the variables on every use (parsing is cheap and keeps no state).

const jwkSchema = z.looseObject({
  kty: z.string(),
  kid: z.string().optional(),
  alg: z.string().optional(),
  use: z.string().optional(),
});
export const jwksSchema = z.object({ keys: z.array(jwkSchema) });

// A private P-256 key as JWK, named by `kid` (tokens say which key signed them).
const signingKeySchema = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  kid: z.string().min(1).max(100),
  x: z.string(),
  y: z.string(),
  d: z.string(),
});

const blankToUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

/** An optional variable holding JSON that must match `schema` (blank means unset). */
function jsonVar<T extends z.ZodType>(name: string, schema: T) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: `${name} is not valid JSON` });
          return z.NEVER;
        }
      })
      .pipe(schema)
      .optional(),
  );
}

const configSchema = z
  .object({
    JWT_ALG: z.enum(["HS256", "RS256", "ES256"]).default("HS256"),
    JWT_SECRET: z.preprocess(blankToUndefined, z.string().optional()),
    JWT_JWKS: jsonVar("JWT_JWKS", z.object({ keys: z.array(jwkSchema).min(1) })),
    JWT_JWKS_URL: z.preprocess(
      blankToUndefined,
      z.url({ protocol: /^https$/, error: "JWT_JWKS_URL must be an https URL" }).optional(),
    ),
    JWT_ISSUER: z.preprocess(blankToUndefined, z.string().optional()),
    JWT_AUDIENCE: z.preprocess(blankToUndefined, z.string().optional()),
    JWT_SIGNING_KEYS: jsonVar("JWT_SIGNING_KEYS", z.object({ keys: z.array(signingKeySchema).min(1) })),
  })
  .superRefine((config, ctx) => {
    if (config.JWT_SIGNING_KEYS) {
      // This service is the issuer: it signs with these and publishes their public halves.
      if (config.JWT_ALG !== "ES256") {
        ctx.addIssue({ code: "custom", path: ["JWT_SIGNING_KEYS"], message: "JWT_SIGNING_KEYS needs JWT_ALG ES256" });
      }
      if (config.JWT_JWKS || config.JWT_JWKS_URL) {
        ctx.addIssue({
          code: "custom",
          path: ["JWT_SIGNING_KEYS"],
          message: "JWT_SIGNING_KEYS excludes JWT_JWKS and JWT_JWKS_URL",
        });
      }
    } else if (config.JWT_ALG === "HS256") {
      // RFC 7518 §3.2: an HS256 key must have at least 256 bits.
      if (!config.JWT_SECRET || new TextEncoder().encode(config.JWT_SECRET).length < 32) {
        ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "HS256 needs JWT_SECRET of at least 32 bytes" });
      }
    } else {
      if (!config.JWT_JWKS === !config.JWT_JWKS_URL) {
        ctx.addIssue({
          code: "custom",
          path: ["JWT_JWKS"],
          message: `${config.JWT_ALG} needs exactly one of JWT_JWKS and JWT_JWKS_URL`,
        });
      }
      // An identity provider signs tokens for many applications: without both checks, a token it
      // issued for another one would be accepted here (RFC 8725 §3.8-3.9).
      for (const name of ["JWT_ISSUER", "JWT_AUDIENCE"] as const) {
        if (config[name] === undefined) {
          ctx.addIssue({ code: "custom", path: [name], message: `${config.JWT_ALG} needs ${name}` });
        }
      }
    }
  });

export type AuthConfig = z.infer<typeof configSchema>;
export type Jwk = z.infer<typeof jwkSchema>;

/** The variables the auth configuration is read from; any may be unset (JWT_ALG defaults to HS256). */
export type AuthVars = Partial<
  Pick<Bindings, "JWT_ALG" | "JWT_SECRET" | "JWT_JWKS" | "JWT_JWKS_URL" | "JWT_ISSUER" | "JWT_AUDIENCE" | "JWT_SIGNING_KEYS">
>;

/** The public halves of this service's signing keys, as published and as verified against. */
export function publishedKeys(config: AuthConfig): Jwk[] {
  return (config.JWT_SIGNING_KEYS?.keys ?? []).map(({ kty, crv, x, y, kid }) => ({
    kty,
    crv,
    x,
    y,
    kid,
    alg: "ES256",
    use: "sig",
  }));
}

/** Whether this service issues its own tokens: HS256, or ES256 with its own signing keys. */
export function issuesOwnTokens(config: AuthConfig): boolean {
  return config.JWT_ALG === "HS256" || config.JWT_SIGNING_KEYS !== undefined;
}

/** Validates the auth configuration; throws with every problem listed when it is unusable. */
export function parseAuthConfig(env: AuthVars): AuthConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}
