import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { REFRESH_IDLE_MS } from "../../src/db/sessions";
import { answerText, call, expectError, type ApiResponse } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { expectUnchanged } from "../helpers/snapshot";
import { expectRefused, orgAs, refresh, sessionRow, signIn } from "../helpers/sign-in";

afterEach(() => vi.restoreAllMocks());

describe("refresh: POST /user/refresh", () => {
  describe("happy path", () => {
    it("rotates: new access and refresh tokens for the same session, the used one spent", async () => {
      const org = await createOrg();
      const session = await signIn(org.users.USER);
      const res = await call("POST", "/user/refresh", { body: { refreshToken: session.refreshToken } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        success: true,
        token: res.body.accessToken,
        accessToken: expect.any(String),
        refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        expiresAt: expect.any(Number),
      });
      expect(res.body.refreshToken).not.toBe(session.refreshToken);
      expect(decodeJwt(res.body.accessToken).sid).toBe(session.tokenId);
      expect((await orgAs(org.id, res.body.accessToken)).status).toBe(200);
      expect((await refresh(res.body.refreshToken)).status).toBe(200);
    });
  });

  describe("errors", () => {
    it("refuses an idle, an expired, a tampered and an unknown refresh token, identically", async () => {
      const org = await createOrg();
      const idle = await signIn(org.users.USER);
      await env.DB.prepare("UPDATE refresh_tokens SET created_at = ? WHERE session_id = ?")
        .bind(new Date(Date.now() - REFRESH_IDLE_MS - 1000).toISOString(), idle.tokenId)
        .run();
      const expired = await signIn(org.users.BILLING);
      await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?")
        .bind(new Date(Date.now() - 1000).toISOString(), expired.tokenId)
        .run();
      const live = await signIn(org.users.WORKSPACES);
      const tampered = `${live.refreshToken.slice(0, -1)}${live.refreshToken.endsWith("A") ? "B" : "A"}`;
      const answers = [];
      for (const token of [idle.refreshToken, expired.refreshToken, tampered, "x".repeat(43)]) {
        const res = await expectUnchanged(() => refresh(token));
        expectRefused(res);
        answers.push(answerText(res));
      }
      expect(new Set(answers).size).toBe(1);
      expect((await refresh(live.refreshToken)).status).toBe(200);
    });

    it("refuses a body with both names, or neither", async () => {
      const org = await createOrg();
      const session = await signIn(org.users.USER);
      for (const body of [{ refresh_token: session.refreshToken, refreshToken: session.refreshToken }, {}]) {
        expectError(await expectUnchanged(() => call("POST", "/user/refresh", { body })), 400, "validation_failed");
      }
    });
  });

  describe("rules", () => {
    it("ends the whole session when a used refresh token comes back (reuse), and the next request of its tokens is 401", async () => {
      const org = await createOrg();
      const session = await signIn(org.users.USER);
      const next = (await refresh(session.refreshToken)).body;
      expectRefused(await refresh(session.refreshToken));
      expect(await sessionRow(session.tokenId)).toMatchObject({ ended_at: expect.any(String), end_reason: "reuse" });
      expectError(await orgAs(org.id, next.accessToken), 401, "unauthorized");
      expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
      expectRefused(await refresh(next.refreshToken));
    });

    it("lets at most one of two concurrent refreshes with one token succeed; the session then ends, consistently", async () => {
      const org = await createOrg();
      const session = await signIn(org.users.USER);
      const answers = await Promise.all([refresh(session.refreshToken), refresh(session.refreshToken)]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
      const winner = answers.find((r) => r.status === 200) as ApiResponse;
      expect(await sessionRow(session.tokenId)).toMatchObject({ end_reason: "reuse" });
      expectRefused(await refresh(winner.body.refreshToken));
      expectError(await orgAs(org.id, winner.body.accessToken), 401, "unauthorized");
    });

    it("ends the sessions of a soft-deleted user, and a reactivation does not bring them back", async () => {
      const org = await createOrg();
      const session = await signIn(org.users.USER);
      expect((await call("DELETE", `/organization/users/${org.users.USER.id}`, { token: org.users.OWNER.token })).status).toBe(
        200,
      );
      expect(await sessionRow(session.tokenId)).toMatchObject({ ended_at: expect.any(String), end_reason: "deleted" });
      expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
      expectRefused(await refresh(session.refreshToken));
      expect(
        (await call("POST", `/organization/users/${org.users.USER.id}/activate`, { token: org.users.OWNER.token })).status,
      ).toBe(200);
      expectRefused(await refresh(session.refreshToken));
      expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
    });

    it("refuses to refresh a session opened before a soft delete even if it was never ended", async () => {
      const org = await createOrg();
      const session = await signIn(org.users.USER);
      // A deletion whose session update never happened (written before sessions ended with it).
      const watermark = Math.ceil(Date.now() / 1000) + 1;
      await env.DB.prepare("UPDATE users SET tokens_valid_after = ? WHERE id = ?").bind(watermark, org.users.USER.id).run();
      expectRefused(await refresh(session.refreshToken));
    });
  });
});
