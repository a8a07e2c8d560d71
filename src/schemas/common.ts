import { z } from "@hono/zod-openapi";
import { ERROR_STATUS, MESSAGES } from "../errors";
import { isRole, ROLE_VALUES, type Role } from "../auth/roles";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// C0 controls (NUL included), DEL and unpaired UTF-16 surrogates cannot round-trip through
// storage unchanged, so text fields refuse them rather than store something else.
const UNSTORABLE = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const uuid = z
  .string()
  .transform((value) => value.toLowerCase())
  .refine((value) => UUID.test(value), MESSAGES.malformedId)
  .openapi({ format: "uuid", example: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f" });

function codePoints(value: string): number {
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
    .openapi({ type: "string", minLength: min, maxLength: max });
}

/** Optional text that may be cleared: null, or an empty string after trimming, stores null. */
export function clearableText(max: number) {
  return text(0, max)
    .transform((value) => (value === "" ? null : value))
    .nullable()
    .openapi({ type: ["string", "null"], maxLength: max });
}

export const role = z
  .number({ error: MESSAGES.invalidRole })
  .refine((value) => isRole(value), MESSAGES.invalidRole)
  .transform((value) => value as Role)
  .openapi({ type: "integer", enum: ROLE_VALUES, description: "0 USER, 1 BILLING, 2 WORKSPACES, 254 ADMINISTRATOR, 255 OWNER" });

export const booleanQuery = z.enum(["true", "false"]).transform((value) => value === "true");

export const ErrorSchema = z
  .object({
    success: z.literal(false),
    data: z.null(),
    message: z.string(),
    code: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]]),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Error");

/** A documented error status: the envelope schema with an example of this status's body. */
export function errorResponse(description: string, code: keyof typeof ERROR_STATUS, message: string) {
  return {
    description,
    content: { "application/json": { schema: ErrorSchema, example: { success: false, data: null, message, code } } },
  };
}

export const idParams = z.object({ userId: uuid.openapi({ param: { name: "userId", in: "path" } }) });
