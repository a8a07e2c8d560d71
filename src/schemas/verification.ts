import { z } from "@hono/zod-openapi";
import { MESSAGES } from "../errors";
import { roleValue, wire } from "./common";
import { AUTH_METHODS } from "../db/schema";
import { password, USER_EXAMPLE } from "./users";

// The verification routes, in the shapes of Flashback's client (preVerifyEmail, validateRegistration).

// Any string up to this length is looked up: a malformed token gets the same answer as an unknown one.
const token = z.string().min(1).max(512).openapi({ description: "The `token` parameter of the verification link" });

export const PreVerifyBody = z.strictObject({ token }).openapi("PreVerifyEmail", { example: { token: "q3Jx…" } });

export const VerifyBody = z
  .strictObject({
    token,
    password: password.optional().openapi({ description: "Sets the account's password; required when it has none" }),
  })
  .openapi("VerifyEmail", { example: { token: "q3Jx…", password: "Str0ng-pass" } });

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
