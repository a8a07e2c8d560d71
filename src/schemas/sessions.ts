import * as z from "../lib/zod";
import { isRole, ROLE } from "../auth/roles";
import type { UserRow } from "../db/schema";
import { MESSAGES } from "../errors";
import { roleValue, text, wire } from "./common";
import { USER_EXAMPLE } from "./users";

// Sign-in and sessions, in the shapes of Flashback's client (LoginBody, LoginResponse,
// RefreshTokenResponse, LogoutResponse; src/api/types/platform/{auth,device}.ts).

const REFRESH_PATTERN = "^[A-Za-z0-9_-]{43}$";
export const refreshToken = z
  .string()
  .length(43)
  .regex(new RegExp(REFRESH_PATTERN), "Not a refresh token")
  .openapi({ pattern: REFRESH_PATTERN, description: "The opaque refresh token a sign-in or refresh answered" });

// Flashback's DeviceInfo; stored as given (bounded) and shown in the session list.
const DeviceInfo = z
  .strictObject({
    userAgent: text(0, 512),
    ipAddress: text(0, 64).optional(),
    deviceType: z.enum(["DESKTOP", "MOBILE", "TABLET"]),
    os: text(0, 100),
    browser: text(0, 100),
    screenResolution: text(0, 32).optional(),
    timezone: text(0, 64).optional(),
    language: text(0, 35).optional(),
    platform: text(0, 100).optional(),
    hardwareConcurrency: wire.integer(0, 4096).optional(),
    deviceMemory: z.number().min(0).max(65536).optional(),
  })
  .openapi("DeviceInfo");

export const LoginBody = z
  .strictObject({
    // Any address up to the length limit: one that matches no account is answered like a wrong password.
    email: z.string().min(1).max(254).openapi({ format: "email" }),
    password: z.string().min(1).max(1024).openapi({ format: "password" }),
    deviceInfo: DeviceInfo.optional(),
  })
  .openapi("Login", { example: { email: "ada@acme.example", password: "Str0ng-pass" } });

export const SignedInUser = z.strictObject({
  id: wire.id,
  email: wire.email,
  name: wire.text(100).openapi({ description: "First name" }),
  orgId: wire.id,
  orgRole: roleValue,
});

export const expiresAt = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .openapi({ format: "int64", description: "When the access token expires, in milliseconds since the epoch" });
export const accessToken = wire.text(4096).openapi({ description: "A bearer JWT for one hour" });

export const LoginResponse = z
  .strictObject({
    success: z.literal(true),
    accessToken,
    refreshToken,
    tokenId: wire.id.openapi({ description: "The session this sign-in opened" }),
    expiresAt,
    user: SignedInUser,
  })
  .openapi("LoginResponse");

export const LOGIN_EXAMPLE = {
  success: true,
  accessToken: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl",
  refreshToken: "q3JxVb8mT0k2sYhC9dLwQe7uNfZpA1gR5iXoE4jK6Hc",
  tokenId: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e80",
  expiresAt: 1767229200000,
  user: { id: USER_EXAMPLE.id, email: USER_EXAMPLE.email, name: USER_EXAMPLE.name, orgId: USER_EXAMPLE.orgId, orgRole: 2 },
};

// Flashback's client sends `refresh_token`; its pages show `refreshToken`: either, not both.
export const RefreshBody = z
  .strictObject({ refresh_token: refreshToken.optional(), refreshToken: refreshToken.optional() })
  .refine((body) => (body.refresh_token === undefined) !== (body.refreshToken === undefined), {
    message: "Send refresh_token or refreshToken, exactly one",
    path: ["refresh_token"],
  })
  .openapi("Refresh", {
    description: "Exactly one of `refresh_token` and `refreshToken`",
    example: { refresh_token: "q3JxVb8mT0k2sYhC9dLwQe7uNfZpA1gR5iXoE4jK6Hc" },
  });

export const RefreshResponse = z
  .strictObject({
    success: z.literal(true),
    token: accessToken.openapi({ description: "The new access token (the same as `accessToken`)" }),
    accessToken,
    refreshToken: refreshToken.openapi({ description: "The new refresh token: the one presented is used up" }),
    expiresAt,
  })
  .openapi("RefreshTokenResponse");

export const REFRESH_EXAMPLE = {
  success: true,
  token: LOGIN_EXAMPLE.accessToken,
  accessToken: LOGIN_EXAMPLE.accessToken,
  refreshToken: "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo",
  expiresAt: 1767229200000,
};

export const SignedOutResponse = z
  .strictObject({ success: z.literal(true), message: wire.text(100) })
  .openapi("LogoutResponse", { example: { success: true, message: MESSAGES.signedOut } });

/** The user as sign-in (and verification) answers them: Flashback's RegisterResponse `user`. */
export function toSignedInUser(user: UserRow) {
  return {
    id: user.id,
    email: user.email,
    name: user.firstName,
    orgId: user.orgId,
    orgRole: isRole(user.orgRole) ? user.orgRole : ROLE.USER,
  };
}

/** The refresh token of a body, whichever name it came under. */
export function presentedRefreshToken(body: { refresh_token?: string | undefined; refreshToken?: string | undefined }): string {
  return (body.refresh_token ?? body.refreshToken) as string;
}
