import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg, FIXTURE_PASSWORD } from "../helpers/fixtures";
import { deliver, recordingEmail, recordingQueue, tokenIn, type SentEmail } from "../helpers/invitations";

// The whole journey with the requests Flashback's client sends (src/api/client.ts: userLogin,
// getOrganizationUsers, createOrganizationUser, validateRegistration, getOrganization, userRefresh,
// getTokens, userLogout): JSON bodies as it builds them, tokens as it sets them.

describe("Flashback's client, end to end", () => {
  it("owner signs in, lists and creates a user; the invitee verifies with a password, signs in, refreshes, lists sessions, signs out", async () => {
    const org = await createOrg();
    const owner = await call("POST", "/user/login", { body: { email: org.users.OWNER.email, password: FIXTURE_PASSWORD } });
    expect(owner.status, owner.text).toBe(200);
    const asOwner = owner.body.accessToken as string;

    const listed = await call("GET", "/organization/users", { token: asOwner });
    expect(listed.body.total).toBe(5);

    const queue = recordingQueue();
    const invitee = `invitee-${crypto.randomUUID()}@acme.example`;
    const created = await callWith({ INVITATIONS: queue.binding }, "POST", "/organization/users", {
      token: asOwner,
      body: { email: invitee, password: "Temp0rary-pass", firstName: "Nia", lastName: "New", orgRole: 0, sendInvite: true },
    });
    expect(created.status, created.text).toBe(201);
    const mail = recordingEmail();
    await deliver(queue.messages, { email: mail.binding });
    const link = tokenIn(mail.sent[0] as SentEmail);

    // validateRegistration(token, password)
    const verified = await call("POST", "/user/verify-email", { body: { token: link, password: "Chosen-pass-7" } });
    expect(verified.status, verified.text).toBe(200);

    const signedIn = await call("POST", "/user/login", { body: { email: invitee, password: "Chosen-pass-7" } });
    expect(signedIn.status, signedIn.text).toBe(200);
    const { accessToken, refreshToken, tokenId } = signedIn.body;
    expect((await call("GET", `/organization/${org.id}`, { token: accessToken })).status).toBe(200);

    const refreshed = await call("POST", "/user/refresh", { body: { refresh_token: refreshToken } });
    expect(refreshed.status, refreshed.text).toBe(200);

    const sessions = await call("GET", "/token", { token: refreshed.body.accessToken });
    expect(sessions.body.tokens.map((t: { id: string }) => t.id)).toContain(tokenId);

    const out = await call("POST", "/user/logout", { body: { refresh_token: refreshed.body.refreshToken } });
    expect(out.body).toMatchObject({ success: true });

    // The old access tokens and refresh tokens are refused from then on.
    for (const token of [accessToken, refreshed.body.accessToken]) {
      expectError(await call("GET", `/organization/${org.id}`, { token }), 401, "unauthorized");
    }
    for (const token of [refreshToken, refreshed.body.refreshToken]) {
      expectError(await call("POST", "/user/refresh", { body: { refresh_token: token } }), 401, "invalid_credentials");
    }
  });
});
