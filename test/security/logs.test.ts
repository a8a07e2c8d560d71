import { afterEach, describe, expect, it } from "vitest";
import { opaqueTokenHash } from "../../src/auth/opaque-token";
import { ROLE } from "../../src/auth/roles";
import { uuidv7 } from "../../src/lib/uuid";
import { call, expectError, send } from "../helpers/api";
import { callWith, faultyDb } from "../helpers/faults";
import { createOrg, FIXTURE_PASSWORD, insertUser, newUserBody } from "../helpers/fixtures";
import { deliver, invitationsOf, recordingEmail, recordingQueue, tokenIn, type SentEmail } from "../helpers/invitations";
import { captureLogs } from "../helpers/logs";

// What reaches the logs: one JSON line per request with the fields chosen for it, and never a
// body, a bound value, a token, a password hash, an email or a name.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let logs: ReturnType<typeof captureLogs> | undefined;
afterEach(() => {
  logs?.restore();
  logs = undefined;
});

describe("the invitation lifecycle's logs", () => {
  it("never hold a verification token, its link, its hash, an address or a name: create, send, failed send, pre-verify, verify", async () => {
    const org = await createOrg();
    logs = captureLogs();
    const queue = recordingQueue();
    const created = await callWith({ INVITATIONS: queue.binding }, "POST", "/organization/users", {
      token: org.users.OWNER.token,
      body: newUserBody({ firstName: "Zephyrine", lastName: "Quixote" }),
    });
    await deliver(queue.messages, { email: recordingEmail(() => true).binding });
    const mail = recordingEmail();
    await deliver(queue.messages, { email: mail.binding, attempts: 2 });
    const email = mail.sent[0] as SentEmail;
    const token = tokenIn(email);
    await call("POST", "/user/pre-verify-email", { body: { token } });
    await call("POST", "/user/verify-email", { body: { token, password: "Brand-n3w-secret" } });
    await call("POST", "/user/verify-email", { body: { token } });
    logs.restore();

    const [row] = await invitationsOf(created.body.data.id);
    const secrets = [
      token,
      email.to,
      created.body.data.email,
      "Zephyrine",
      "Quixote",
      "verify-email?",
      row?.token_hash as string,
      "Brand-n3w-secret",
    ];
    expect(logs.raw.length).toBeGreaterThan(5);
    for (const line of logs.raw) for (const secret of secrets) expect(line).not.toContain(secret);
    // What an operator sees instead: which invitation, which attempt, how it went.
    expect(logs.lines().filter((line) => line.event !== "request")).toEqual([
      { level: "warn", event: "invitation_send_failed", invitationId: row?.id, attempt: 1, error: { class: "Error" } },
      { level: "info", event: "invitation_sent", invitationId: row?.id, attempt: 2 },
    ]);
  });
});

describe("sign-in's logs", () => {
  it("never hold a password, an access or refresh token, an address or a hash: login, failed login, refresh, reuse, logout", async () => {
    const org = await createOrg();
    logs = captureLogs();
    const body = { email: org.users.USER.email, password: FIXTURE_PASSWORD };
    const signedIn = await call("POST", "/user/login", { body });
    await call("POST", "/user/login", { body: { ...body, password: "Wrong-Secret-9" } });
    const refreshed = await call("POST", "/user/refresh", { body: { refresh_token: signedIn.body.refreshToken } });
    await call("POST", "/user/refresh", { body: { refresh_token: signedIn.body.refreshToken } });
    await call("POST", "/user/logout", { body: { refresh_token: refreshed.body.refreshToken } });
    logs.restore();
    const secrets = [
      body.password,
      "Wrong-Secret-9",
      org.users.USER.email,
      signedIn.body.accessToken,
      signedIn.body.refreshToken,
      refreshed.body.accessToken,
      refreshed.body.refreshToken,
      await opaqueTokenHash(signedIn.body.refreshToken),
    ];
    expect(logs.raw.length).toBe(5);
    for (const line of logs.raw) for (const secret of secrets) expect(line).not.toContain(secret);
  });
});

describe("the request log", () => {
  it("keeps every value of a failed write's body, and its password hash, out of the logs", async () => {
    const org = await createOrg();
    const marker = uuidv7().slice(-12);
    const body = {
      email: `Leak.Check-${marker}@Secret.example`,
      password: `Sup3r-Secret-${marker}`,
      firstName: `Zephyrine${marker}`,
      lastName: `Quixote${marker}`,
      provider: `provider-${marker}`,
    };
    logs = captureLogs();
    // The insert fails inside D1: Drizzle's error then carries the statement's bound values.
    const res = await callWith({ DB: faultyDb(/insert into "users"/i) }, "POST", "/organization/users", {
      token: org.users.OWNER.token,
      body,
    });
    logs.restore();
    expectError(res, 500, "internal_error");

    expect(logs.raw.length).toBeGreaterThan(0);
    const values = [...Object.values(body), body.email.toLowerCase(), body.firstName.toLowerCase(), body.lastName.toLowerCase()];
    for (const line of logs.raw) {
      for (const value of values) expect(line).not.toContain(value);
      expect(line).not.toContain(marker);
      expect(line).not.toMatch(/pbkdf2-sha256\$/);
      expect(line).not.toContain(org.users.OWNER.token);
    }
    // The one line says what failed, for an operator, without the values.
    expect(logs.lines()).toEqual([
      {
        level: "error",
        event: "request",
        requestId: res.headers.get("X-Request-Id"),
        method: "POST",
        route: "/organization/users",
        status: 500,
        durationMs: expect.any(Number),
        callerId: org.users.OWNER.id,
        code: "internal_error",
        error: {
          class: "Error",
          message: expect.stringMatching(/^D1_ERROR: no such table: users_unavailable/),
          cause: "no such table: users_unavailable: SQLITE_ERROR",
        },
      },
    ]);
  });

  it("keeps the address out of the logs when the statement bound to it fails (Drizzle's error lists its parameters)", async () => {
    const org = await createOrg();
    const holder = await insertUser(org.id, ROLE.USER, { unverified: true });
    logs = captureLogs();
    // Signing in looks the address up in one statement (not a batch), and that lookup fails.
    const res = await callWith({ DB: faultyDb(/lower\("users"\."email"\) = \?/i) }, "POST", "/user/login", {
      body: { email: holder.email.toUpperCase(), password: "Passw0rd-ok" },
    });
    // A create's batch reads who holds the address in its first statement, and that fails too.
    const created = await callWith({ DB: faultyDb(/lower\("org_holder"\."email"\) = \?/i) }, "POST", "/organization/users", {
      token: org.users.OWNER.token,
      body: { email: holder.email.toUpperCase(), password: "Passw0rd-ok", firstName: "Ada", lastName: "Byron" },
    });
    logs.restore();
    expectError(res, 500, "internal_error");
    expectError(created, 500, "internal_error");
    for (const line of logs.raw) expect(line.toLowerCase()).not.toContain(holder.email);
    const [line, batchLine] = logs.lines();
    expect(line).toMatchObject({ level: "error", status: 500, code: "internal_error", error: { class: "DrizzleQueryError" } });
    // The statement is named, with its placeholders, the parameter list cut off; then the driver's reason.
    expect(line?.error).toEqual({
      class: "DrizzleQueryError",
      // Clipped to its first 400 characters, the parameter list cut off.
      message: expect.stringMatching(/^Failed query: select "users"\."id", "users"\."org_id", /),
      cause: "no such table: users_unavailable: SQLITE_ERROR",
    });
    expect((line?.error as { message: string }).message.length).toBeLessThanOrEqual(400);
    expect((line?.error as { message: string }).message).not.toMatch(/params/);
    // A batch fails with the driver's reason alone.
    expect(batchLine).toMatchObject({ level: "error", status: 500, route: "/organization/users", error: { class: "Error" } });
  });

  it("writes one line per request: id, method, route pattern (not the path), status, duration, caller, error code", async () => {
    const org = await createOrg();
    const target = org.users.USER.id;
    logs = captureLogs();
    const ok = await call("GET", `/organization/users/${target}`, { token: org.users.OWNER.token });
    const refused = await call("DELETE", `/organization/users/${org.users.OWNER.id}`, { token: org.users.WORKSPACES.token });
    const anonymous = await call("GET", "/organization/users");
    logs.restore();

    expect(logs.lines()).toEqual([
      {
        level: "info",
        event: "request",
        requestId: ok.headers.get("X-Request-Id"),
        method: "GET",
        route: "/organization/users/:userId",
        status: 200,
        durationMs: expect.any(Number),
        callerId: org.users.OWNER.id,
      },
      {
        level: "info",
        event: "request",
        requestId: refused.headers.get("X-Request-Id"),
        method: "DELETE",
        route: "/organization/users/:userId",
        status: 403,
        durationMs: expect.any(Number),
        callerId: org.users.WORKSPACES.id,
        code: "forbidden",
      },
      {
        level: "info",
        event: "request",
        requestId: anonymous.headers.get("X-Request-Id"),
        method: "GET",
        route: "/organization/users",
        status: 401,
        durationMs: expect.any(Number),
        code: "unauthorized",
      },
    ]);
    // Ids a client chose are never logged as part of a path.
    for (const line of logs.raw) expect(line).not.toContain(target);
  });
});

describe("X-Request-Id", () => {
  it("is Cloudflare's CF-Ray when present, in the header and in the error body", async () => {
    const ray = "8c2f0a1b2c3d4e5f-LIS";
    const res = await send(new Request("https://api.test/organization/users", { headers: { "CF-Ray": ray } }));
    expectError(res, 401, "unauthorized");
    expect(res.headers.get("X-Request-Id")).toBe(ray);
    expect(res.body.requestId).toBe(ray);
  });

  it("is a fresh random UUID without CF-Ray, or when CF-Ray is not of its shape", async () => {
    const ids = [];
    for (const ray of [undefined, "x".repeat(65), "bad ray", "<script>", ""]) {
      const res = await send(
        new Request("https://api.test/nothing-here", { headers: ray === undefined ? {} : { "CF-Ray": ray } }),
      );
      expectError(res, 404, "not_found");
      const id = res.headers.get("X-Request-Id") as string;
      expect(id).toMatch(UUID);
      expect(res.body.requestId).toBe(id);
      ids.push(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("is on every kind of answer: success, error, unknown path, method not allowed, the health check", async () => {
    const org = await createOrg();
    const answers = [
      await call("GET", `/organization/${org.id}`, { token: org.users.USER.token }),
      await call("GET", `/organization/${org.id}`),
      await call("GET", "/nothing-here"),
      await call("PATCH", "/organization/users"),
      await call("GET", "/health"),
    ];
    for (const res of answers) expect(res.headers.get("X-Request-Id"), `${res.status} ${res.text.slice(0, 80)}`).toMatch(UUID);
  });
});
