import * as z from "../lib/zod";
import { MESSAGES } from "../errors";
import { wire } from "./common";
import { accessToken, expiresAt, refreshToken, SignedInUser } from "./sessions";
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

// With a session when this deployment signs its own tokens (JWT_ALG HS256): verifying signs in.
export const VerifyResponse = z
  .strictObject({
    success: z.literal(true),
    message: wire.text(500),
    user: SignedInUser,
    accessToken: accessToken.optional(),
    refreshToken: refreshToken.optional(),
    tokenId: wire.id.optional().openapi({ description: "The session this verification opened" }),
    expiresAt: expiresAt.optional(),
  })
  .openapi("VerifyEmailResponse");

export const VERIFY_EXAMPLE = {
  success: true,
  message: MESSAGES.emailVerified,
  user: { id: USER_EXAMPLE.id, email: USER_EXAMPLE.email, name: USER_EXAMPLE.name, orgId: USER_EXAMPLE.orgId, orgRole: 2 },
  accessToken: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl",
  refreshToken: "q3JxVb8mT0k2sYhC9dLwQe7uNfZpA1gR5iXoE4jK6Hc",
  tokenId: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e80",
  expiresAt: 1767229200000,
};
