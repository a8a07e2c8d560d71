import { z } from "@hono/zod-openapi";
import { MESSAGES } from "../errors";
import { roleValue, wire } from "./common";
import { AUTH_METHODS } from "../db/schema";
import { password, USER_EXAMPLE } from "./users";

// The verification routes, in the shapes of Flashback's client (preVerifyEmail, validateRegistration).

// 32 bytes in base64url: anything else cannot be a token (400 validation_failed); a well-formed token
// that cannot verify, for whatever reason, gets the one `invalid_token` answer.
const TOKEN_PATTERN = "^[A-Za-z0-9_-]{43}$";
const token = z
  .string()
  .length(43)
  .regex(new RegExp(TOKEN_PATTERN), "Not a verification token")
  .openapi({ pattern: TOKEN_PATTERN, description: "The `token` parameter of the verification link" });

export const PreVerifyBody = z
  .strictObject({ token })
  .openapi("PreVerifyEmail", { example: { token: "q3JxVb8mT0k2sYhC9dLwQe7uNfZpA1gR5iXoE4jK6Hc" } });

export const VerifyBody = z
  .strictObject({
    token,
    password: password.optional().openapi({ description: "Sets the account's password; required when it has none" }),
  })
  .openapi("VerifyEmail", { example: { token: "q3JxVb8mT0k2sYhC9dLwQe7uNfZpA1gR5iXoE4jK6Hc", password: "Str0ng-pass" } });

export const PreVerifyResponse = z
  .strictObject({
    success: z.literal(true),
    message: wire.text(500),
    authMethod: z.enum(AUTH_METHODS),
    hasPassword: z.boolean(),
  })
  .openapi("PreVerifyEmailResponse");

export const PRE_VERIFY_EXAMPLE = {
  success: true,
  message: MESSAGES.verificationTokenValid,
  authMethod: "LOCAL",
  hasPassword: true,
};

export const VerifyResponse = z
  .strictObject({
    success: z.literal(true),
    message: wire.text(500),
    user: z.strictObject({
      id: wire.id,
      email: wire.email,
      name: wire.text(100).openapi({ description: "First name" }),
      orgId: wire.id,
      orgRole: roleValue,
    }),
  })
  .openapi("VerifyEmailResponse");

export const VERIFY_EXAMPLE = {
  success: true,
  message: MESSAGES.emailVerified,
  user: { id: USER_EXAMPLE.id, email: USER_EXAMPLE.email, name: USER_EXAMPLE.name, orgId: USER_EXAMPLE.orgId, orgRole: 2 },
};
