import * as z from "../lib/zod";
import { ROLE_DESCRIPTIONS } from "../auth/roles";
import { partialUpdate, roleValue, text, uuid, wire } from "./common";
import { password, USER_EXAMPLE } from "./users";

// The caller's own account: their sessions (Flashback's getTokens / revokeToken) and profile
// (getUserProfile).

// Flashback's UserUpdateRequest: one's own names and password.
export const UpdateOwnAccountBody = partialUpdate(
  z.strictObject({
    name: text(1, 100).optional(),
    lastName: text(1, 100).optional(),
    password: password.optional().openapi({ description: "A new password: every other session of the caller ends" }),
  }),
).openapi("UpdateOwnAccount", { example: { name: "Grace", password: "N3w-secret-pass" } });

export const TokenIdParams = z.object({ tokenId: uuid.openapi({ param: { name: "tokenId", in: "path" } }) });

const SessionSchema = z
  .strictObject({
    id: wire.id.openapi({ description: "The `tokenId` sign-in answered; `DELETE /token/{tokenId}` ends it" }),
    deviceInfo: z.record(z.string(), z.unknown()).nullable().openapi({ description: "As the client sent it at sign-in" }),
    createdAt: wire.timestamp,
    lastUsedAt: wire.timestamp.openapi({ description: "The last sign-in or refresh" }),
    expiresAt: wire.timestamp.openapi({ description: "The session's absolute end" }),
    current: z.boolean().openapi({ description: "Whether the request's own token belongs to it" }),
  })
  .openapi("Session");

export const SessionListResponse = z
  .strictObject({ success: z.literal(true), tokens: z.array(SessionSchema).max(1000) })
  .openapi("SessionList");

export const SESSION_LIST_EXAMPLE = {
  success: true,
  tokens: [
    {
      id: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e80",
      deviceInfo: { userAgent: "Mozilla/5.0", deviceType: "DESKTOP", os: "Linux", browser: "Firefox" },
      createdAt: "2026-12-01T09:00:00.000Z",
      lastUsedAt: "2026-12-01T09:55:00.000Z",
      expiresAt: "2026-12-31T09:00:00.000Z",
      current: true,
    },
  ],
};

export const ProfileResponse = z
  .strictObject({
    success: z.literal(true),
    data: z.strictObject({
      id: wire.id,
      name: wire.text(100).openapi({ description: "First name" }),
      lastName: wire.text(100),
      email: wire.email,
      orgId: wire.id,
      orgRole: roleValue,
      orgRoleDescription: z.enum(ROLE_DESCRIPTIONS as [string, ...string[]]),
      orgRoles: z.array(roleValue).max(5),
      validated: z.boolean(),
      mfaRequired: z.boolean().openapi({ description: "The organization enforces MFA (`mfaEnforced`)" }),
      isBusiness: z.boolean().openapi({ description: "The organization is a business" }),
    }),
  })
  .openapi("UserProfileResponse");

export const PROFILE_EXAMPLE = {
  success: true,
  data: {
    id: USER_EXAMPLE.id,
    name: USER_EXAMPLE.name,
    lastName: USER_EXAMPLE.lastName,
    email: USER_EXAMPLE.email,
    orgId: USER_EXAMPLE.orgId,
    orgRole: 2,
    orgRoleDescription: "WORKSPACES",
    orgRoles: [0, 1, 2],
    validated: true,
    mfaRequired: false,
    isBusiness: true,
  },
};
