import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError, type ApiResponse } from "./api";
import { FIXTURE_PASSWORD, type FixtureUser } from "./fixtures";

// POST /user/login, /user/refresh and /user/logout, with the bodies Flashback's client sends
// (userLogin, userRefresh and userLogout send `refresh_token`).

export const login = (email: string, password = FIXTURE_PASSWORD, extra: Record<string, unknown> = {}) =>
  call("POST", "/user/login", { body: { email, password, ...extra } });
export const refresh = (token: string) => call("POST", "/user/refresh", { body: { refresh_token: token } });
export const logout = (token: string) => call("POST", "/user/logout", { body: { refresh_token: token } });

export type Session = { accessToken: string; refreshToken: string; tokenId: string; expiresAt: number };

/** Signs a fixture user in with the fixture password and returns the new session's tokens. */
export async function signIn(user: FixtureUser): Promise<Session> {
  const res = await login(user.email);
  expect(res.status, res.text).toBe(200);
  return res.body as Session;
}

/** GET /organization/{orgId} with a token: 200 while the token's session is live. */
export const orgAs = (orgId: string, token: string) => call("GET", `/organization/${orgId}`, { token });

export async function sessionRow(id: string) {
  return env.DB.prepare("SELECT user_id, ended_at, end_reason, device_info FROM sessions WHERE id = ?").bind(id).first();
}

/** The one answer to a refresh token that is unknown, spent, idle, expired or tampered with. */
export function expectRefused(res: ApiResponse) {
  expectError(res, 401, "invalid_credentials", MESSAGES.invalidRefreshToken);
}
