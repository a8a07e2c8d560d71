import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { ROLE } from "../../src/auth/roles";
import { SWEEP_AFTER_MS } from "../../src/invitations/sweep";
import { uuidv7 } from "../../src/lib/uuid";
import { createOrg, FIXTURE_PASSWORD, insertUser, newUserBody, registrationBody } from "../helpers/fixtures";
import {
  DEAD_LETTER_QUEUE,
  deliver,
  invitationsOf,
  invitedUser,
  recordingEmail,
  recordingQueue,
  runSweep,
  tokenIn,
  type SentEmail,
} from "../helpers/invitations";
import { expectIndexed, planOf, recordingD1, type Execution, type Recorder } from "../helpers/recording";

// Every statement the API sends, recorded from real requests to every operation (successes and
// every refusal that reads the database), must reach users, organizations and the kept counts
// through an index; and every request costs exactly one D1 round trip: the caller's verdict and the
// operation's work in one statement or one batch. Two paths alone need a second: a password read
// before it can be checked (sign-in, and the link of a self-registration).

type Sent = { name: string; status: number; roundTrips: number };

async function send(
  recorder: Recorder,
  name: string,
  method: string,
  path: string,
  init: { token?: string; body?: unknown } = {},
  bindings: Partial<Env> = {},
): Promise<Sent & { body: any }> {
  const before = recorder.roundTrips;
  const headers = new Headers();
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  const response = await app.request(
    path,
    { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) },
    { ...env, ...bindings, DB: recorder.db },
  );
  return { name, status: response.status, roundTrips: recorder.roundTrips - before, body: await response.json() };
}

type Case = { name: string; method: string; path: string; token?: string; body?: unknown; status: number };

function expectEveryStatementIndexed(executions: Execution[]) {
  const distinct = new Map<string, Execution>();
  for (const execution of executions) distinct.set(execution.sql, execution);
  return Promise.all(
    [...distinct.values()].map(async (execution) => {
      const plan = await planOf(execution);
      // An INSERT of VALUES reads nothing; every other statement has a plan to check.
      if (plan.length === 0) {
        expect(execution.sql, "only an INSERT of VALUES has no plan").toMatch(/^\s*insert into "\w+" \([^)]*\) values/i);
        return;
      }
      expectIndexed(plan, execution.sql);
    }),
  ).then(() => distinct.size);
}

describe("the statements the API sends", () => {
  it("cost one round trip for every authenticated operation and each of its refusals, each through an index", async () => {
    const org = await createOrg();
    const other = await createOrg();
    const owner = org.users.OWNER.token;
    const admin = org.users.ADMINISTRATOR.token;
    const member = org.users.USER.token;
    const unverified = await insertUser(org.id, ROLE.WORKSPACES, { unverified: true });
    const stale = await insertUser(org.id, ROLE.OWNER);
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), stale.id).run();
    const signedIn = await app.request(
      "/user/login",
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: org.users.BILLING.email, password: FIXTURE_PASSWORD }),
      },
      env,
    );
    const session = (await signedIn.json()) as { accessToken: string; tokenId: string };
    const USERS = "/organization/users";
    const one = (id: string) => `/organization/users/${id}`;
    const ORG = `/organization/${org.id}`;

    const recorder = recordingD1();
    const sent: (Sent & { body: any })[] = [];
    const run = async (c: Case) => {
      const result = await send(recorder, c.name, c.method, c.path, { token: c.token, body: c.body });
      expect(result.status, `${c.name}: ${JSON.stringify(result.body)}`).toBe(c.status);
      sent.push(result);
      return result;
    };
    const created = async () =>
      (await run({ name: "POST user", method: "POST", path: USERS, token: owner, body: newUserBody(), status: 201 })).body.data
        .id as string;

    // The caller's own refusals, on a route of each kind.
    await run({ name: "a deleted caller", method: "GET", path: ORG, token: stale.token, status: 401 });
    await run({ name: "an unverified caller", method: "GET", path: USERS, token: unverified.token, status: 403 });
    await run({ name: "a role too low", method: "GET", path: USERS, token: member, status: 403 });
    await run({
      name: "a role too low, with a bad body",
      method: "PUT",
      path: ORG,
      token: member,
      body: { city: 7 },
      status: 403,
    });
    await run({ name: "a bad body", method: "PUT", path: ORG, token: admin, body: { city: 7 }, status: 400 });
    await run({ name: "a body not JSON", method: "PUT", path: ORG, token: admin, body: undefined, status: 415 });
    await run({ name: "a bad cursor", method: "GET", path: `${USERS}?cursor=nope`, token: owner, status: 400 });

    await run({ name: "GET organization", method: "GET", path: ORG, token: member, status: 200 });
    await run({ name: "GET audit log", method: "GET", path: "/organization/audit-log", token: admin, status: 200 });
    await run({
      name: "GET audit log, filtered, a later page",
      method: "GET",
      path: `/organization/audit-log?actor=${org.users.OWNER.id}&action=user.created&from=2026-01-01T00:00:00Z&cursor=99999`,
      token: admin,
      status: 200,
    });
    await run({
      name: "GET audit log, a role too low",
      method: "GET",
      path: "/organization/audit-log",
      token: member,
      status: 403,
    });
    await run({
      name: "GET organization, another's",
      method: "GET",
      path: `/organization/${other.id}`,
      token: member,
      status: 403,
    });
    await run({ name: "PUT organization", method: "PUT", path: ORG, token: admin, body: { city: "Lisbon" }, status: 200 });
    await run({
      name: "PUT organization, another's",
      method: "PUT",
      path: `/organization/${other.id}`,
      token: admin,
      body: { city: "Oslo" },
      status: 403,
    });

    const first = await run({ name: "GET list", method: "GET", path: `${USERS}?limit=2`, token: owner, status: 200 });
    await run({
      name: "GET list, next page",
      method: "GET",
      path: `${USERS}?limit=2&cursor=${first.body.nextCursor}`,
      token: owner,
      status: 200,
    });
    await run({
      name: "GET list, includeDeleted",
      method: "GET",
      path: `${USERS}?includeDeleted=true`,
      token: owner,
      status: 200,
    });
    await run({ name: "GET list, role", method: "GET", path: `${USERS}?role=0`, token: owner, status: 200 });
    await run({
      name: "GET list, role and cursor",
      method: "GET",
      path: `${USERS}?role=0&limit=1&cursor=${first.body.nextCursor}`,
      token: owner,
      status: 200,
    });
    await run({
      name: "GET list, search",
      method: "GET",
      path: `${USERS}?q=lovelace&includeDeleted=true&role=255`,
      token: owner,
      status: 200,
    });
    const found = await run({
      name: "GET list, search, live",
      method: "GET",
      path: `${USERS}?q=lovelace&limit=2`,
      token: owner,
      status: 200,
    });
    await run({
      name: "GET list, search, next page",
      method: "GET",
      path: `${USERS}?q=lovelace&limit=2&cursor=${found.body.nextCursor}`,
      token: owner,
      status: 200,
    });
    await run({ name: "GET list, prefix search", method: "GET", path: `${USERS}?q=lo`, token: owner, status: 200 });
    await run({
      name: "GET list, prefix search, role and includeDeleted",
      method: "GET",
      path: `${USERS}?q=lo&role=0&includeDeleted=true`,
      token: owner,
      status: 200,
    });

    await run({ name: "GET user", method: "GET", path: one(org.users.OWNER.id), token: org.users.WORKSPACES.token, status: 200 });
    await run({
      name: "GET user, deleted",
      method: "GET",
      path: `${one(org.deleted.id)}?includeDeleted=true`,
      token: owner,
      status: 200,
    });
    await run({ name: "GET user, unknown", method: "GET", path: one(uuidv7()), token: owner, status: 404 });
    await run({
      name: "GET user, another organization's",
      method: "GET",
      path: one(other.users.USER.id),
      token: owner,
      status: 404,
    });

    const id = await created();
    await run({
      name: "POST user, no invitation",
      method: "POST",
      path: USERS,
      token: owner,
      body: newUserBody({ sendInvite: false }),
      status: 201,
    });
    await run({
      name: "POST user, address of a deleted user",
      method: "POST",
      path: USERS,
      token: owner,
      body: newUserBody({ email: org.deleted.email }),
      status: 409,
    });
    await run({
      name: "POST user, address verified elsewhere",
      method: "POST",
      path: USERS,
      token: owner,
      body: newUserBody({ email: other.users.USER.email }),
      status: 409,
    });
    await run({
      name: "POST user, role above the caller's",
      method: "POST",
      path: USERS,
      token: org.users.WORKSPACES.token,
      body: newUserBody({ orgRole: 254 }),
      status: 403,
    });

    await run({
      name: "PUT user",
      method: "PUT",
      path: one(id),
      token: owner,
      body: { name: "Renamed", orgRole: 2 },
      status: 200,
    });
    await run({
      name: "PUT user, role above the caller's",
      method: "PUT",
      path: one(id),
      token: org.users.WORKSPACES.token,
      body: { orgRole: 254 },
      status: 403,
    });
    await run({
      name: "PUT user, ranked above the caller",
      method: "PUT",
      path: one(org.users.OWNER.id),
      token: admin,
      body: { orgRole: 0 },
      status: 403,
    });
    await run({
      name: "PUT user, last owner",
      method: "PUT",
      path: one(org.users.OWNER.id),
      token: owner,
      body: { orgRole: 0 },
      status: 409,
    });
    await run({ name: "PUT user, unknown", method: "PUT", path: one(uuidv7()), token: owner, body: { name: "X" }, status: 404 });
    await run({ name: "DELETE user", method: "DELETE", path: one(id), token: owner, status: 200 });
    await run({
      name: "DELETE user, oneself",
      method: "DELETE",
      path: one(org.users.WORKSPACES.id),
      token: org.users.WORKSPACES.token,
      status: 400,
    });
    await run({ name: "DELETE user, unknown", method: "DELETE", path: one(uuidv7()), token: owner, status: 404 });
    await run({ name: "POST activate", method: "POST", path: `${one(id)}/activate`, token: owner, status: 200 });
    await run({
      name: "POST activate, not deleted",
      method: "POST",
      path: `${one(org.users.USER.id)}/activate`,
      token: owner,
      status: 400,
    });
    await run({
      name: "POST resend-invitation",
      method: "POST",
      path: `${one(id)}/resend-invitation`,
      token: owner,
      status: 200,
    });
    await run({
      name: "POST resend-invitation, verified",
      method: "POST",
      path: `${one(org.users.USER.id)}/resend-invitation`,
      token: owner,
      status: 400,
    });

    await run({ name: "GET /token", method: "GET", path: "/token", token: session.accessToken, status: 200 });
    await run({ name: "GET /user/profile", method: "GET", path: "/user/profile", token: session.accessToken, status: 200 });
    await run({
      name: "PUT /user/{userId}",
      method: "PUT",
      path: `/user/${org.users.BILLING.id}`,
      token: session.accessToken,
      body: { name: "Own" },
      status: 200,
    });
    await run({
      name: "PUT /user/{userId}, someone else",
      method: "PUT",
      path: `/user/${org.users.USER.id}`,
      token: session.accessToken,
      body: { name: "X" },
      status: 403,
    });
    await run({
      name: "DELETE /token/{tokenId}, unknown",
      method: "DELETE",
      path: `/token/${uuidv7()}`,
      token: session.accessToken,
      status: 404,
    });
    await run({
      name: "DELETE /token/{tokenId}",
      method: "DELETE",
      path: `/token/${session.tokenId}`,
      token: session.accessToken,
      status: 200,
    });
    await run({
      name: "a token of an ended session",
      method: "GET",
      path: "/user/profile",
      token: session.accessToken,
      status: 401,
    });

    expect(Object.fromEntries(sent.map((s) => [s.name, s.roundTrips]))).toEqual(Object.fromEntries(sent.map((s) => [s.name, 1])));
    // No read of these operations takes a password hash out of the database: none of them shows one.
    const readsHashes = recorder.executions.filter((e) => /^\s*select/i.test(e.sql) && e.sql.includes('"password_hash"'));
    expect(readsHashes.map((e) => e.sql)).toEqual([]);
    expect(await expectEveryStatementIndexed(recorder.executions)).toBeGreaterThan(20);
  });

  it("the invitation routes, the queue consumer and the sweep use an index for every table, in one round trip each", async () => {
    const org = await createOrg();
    const recorder = recordingD1();
    const owner = org.users.OWNER.token;
    const target = await insertUser(org.id, ROLE.USER, { unverified: true });
    const invited = await invitedUser(org.users.OWNER);
    const resent = await send(recorder, "resend", "POST", `/organization/users/${target.id}/resend-invitation`, { token: owner });
    const refused = await send(
      recorder,
      "resend, verified",
      "POST",
      `/organization/users/${org.users.USER.id}/resend-invitation`,
      {
        token: owner,
      },
    );
    const checked = await send(recorder, "pre-verify", "POST", "/user/pre-verify-email", { body: { token: invited.token } });
    const verified = await send(recorder, "verify", "POST", "/user/verify-email", { body: { token: invited.token } });
    expect([resent, refused, checked, verified].map((s) => [s.name, s.status])).toEqual([
      ["resend", 200],
      ["resend, verified", 400],
      ["pre-verify", 200],
      ["verify", 200],
    ]);
    // Verifying an invitee's address opens their session in the same batch.
    expect([resent, refused, checked, verified].map((s) => s.roundTrips)).toEqual([1, 1, 1, 1]);

    const [pending] = await invitationsOf(target.id);
    await deliver([{ invitationId: pending?.id }], { email: recordingEmail(() => true).binding, env: { DB: recorder.db } });
    await deliver([{ invitationId: pending?.id }], { email: recordingEmail().binding, env: { DB: recorder.db } });
    await deliver([{ invitationId: pending?.id }], { queue: DEAD_LETTER_QUEUE, env: { DB: recorder.db } });
    await runSweep(Date.now() + SWEEP_AFTER_MS + 60_000, { DB: recorder.db, INVITATIONS: recordingQueue().binding });

    const distinct = new Map<string, Execution>();
    for (const execution of recorder.executions) distinct.set(execution.sql, execution);
    expect(distinct.size).toBeGreaterThan(10);
    for (const execution of distinct.values()) expectIndexed(await planOf(execution), execution.sql);
  });

  it("sign-in, refresh (and reuse) and sign-out use an index for every table, in one round trip each after the account lookup", async () => {
    const org = await createOrg();
    const recorder = recordingD1();
    const body = { email: org.users.USER.email, password: FIXTURE_PASSWORD };
    const signedIn = await send(recorder, "login", "POST", "/user/login", { body });
    const refreshed = await send(recorder, "refresh", "POST", "/user/refresh", {
      body: { refresh_token: signedIn.body.refreshToken },
    });
    const again = await send(recorder, "refresh, reused", "POST", "/user/refresh", {
      body: { refresh_token: signedIn.body.refreshToken },
    });
    const read = await send(recorder, "GET organization, session ended", "GET", `/organization/${org.id}`, {
      token: refreshed.body.accessToken,
    });
    const other = await send(recorder, "login again", "POST", "/user/login", { body });
    const out = await send(recorder, "logout", "POST", "/user/logout", { body: { refresh_token: other.body.refreshToken } });
    expect([signedIn, refreshed, again, read, other, out].map((s) => [s.name, s.status, s.roundTrips])).toEqual([
      // The account, then the session batch.
      ["login", 200, 2],
      ["refresh", 200, 1],
      ["refresh, reused", 401, 1],
      ["GET organization, session ended", 401, 1],
      ["login again", 200, 2],
      ["logout", 200, 1],
    ]);
    const distinct = new Map<string, Execution>();
    for (const execution of recorder.executions) distinct.set(execution.sql, execution);
    for (const execution of distinct.values()) {
      const plan = await planOf(execution);
      if (plan.length > 0) expectIndexed(plan, execution.sql);
    }
  });

  it("registering, resending its email and verifying it: one round trip each, two for the link that checks the registration password", async () => {
    const recorder = recordingD1();
    const queue = recordingQueue();
    const body = registrationBody();
    const registered = await send(recorder, "register", "POST", "/user/register", { body }, { INVITATIONS: queue.binding });
    const resent = await send(
      recorder,
      "resend-verification",
      "POST",
      `/user/resend-verification/${registered.body.verificationTokenId}`,
      {},
      { INVITATIONS: queue.binding },
    );
    expect([registered.status, resent.status, queue.messages.length], JSON.stringify(resent.body)).toEqual([201, 200, 2]);
    const mail = recordingEmail();
    await deliver(queue.messages.slice(-1), { email: mail.binding });
    const token = tokenIn(mail.sent[0] as SentEmail);
    const wrong = await send(recorder, "verify, wrong password", "POST", "/user/verify-email", {
      body: { token, password: "Not-the-one-1" },
    });
    const verified = await send(recorder, "verify", "POST", "/user/verify-email", { body: { token, password: body.password } });
    expect([registered, resent, wrong, verified].map((s) => [s.name, s.status, s.roundTrips])).toEqual([
      ["register", 201, 1],
      ["resend-verification", 200, 1],
      // The first batch reads the registration password; the second verifies once it was checked.
      ["verify, wrong password", 401, 1],
      ["verify", 200, 2],
    ]);
    await expectEveryStatementIndexed(recorder.executions);
  });

  it("a search reads the full-text index, or for one or two characters the three B-tree ranges, and never scans users", async () => {
    const org = await createOrg();
    const recorder = recordingD1();
    const owner = org.users.OWNER.token;
    const page = await send(recorder, "search", "GET", "/organization/users?q=lovelace&limit=1", { token: owner });
    expect(page.status).toBe(200);
    const paths = [
      "q=lovelace&role=0",
      "q=lovelace&includeDeleted=true",
      `q=lovelace&limit=1&cursor=${page.body.nextCursor}`,
      `q=${encodeURIComponent('"NEAR(a* OR b)":')}`,
      "q=lo",
      "q=l&includeDeleted=true",
      "q=lo&role=0&cursor=" + page.body.nextCursor,
    ];
    for (const path of paths) {
      const sent = await send(recorder, path, "GET", `/organization/users?${path}`, { token: owner });
      expect(sent.status, path).toBe(200);
      expect(sent.roundTrips, path).toBe(1);
    }
    const searches = recorder.executions.filter((e) => /users_search|"first_name_folded" >=/.test(e.sql));
    const distinct = new Map(searches.map((e) => [e.sql, e]));
    // Substring and prefix, each a page and a count (with and without role, live and deleted).
    expect(distinct.size).toBeGreaterThanOrEqual(8);
    for (const execution of distinct.values()) {
      const plan = await planOf(execution);
      const where = `${execution.sql}: ${plan.join(" / ")}`;
      expectIndexed(plan, execution.sql);
      expect(
        plan.some((step) => /^SCAN users\b(?!_search)/.test(step)),
        where,
      ).toBe(false);
      if (execution.sql.includes("users_search")) {
        expect(plan, where).toContainEqual(expect.stringMatching(/^SCAN users_search VIRTUAL TABLE INDEX \d+:M\S*[<>]/));
        // The organization's range comes from its key, by the unique index on org_id.
        expect(plan, where).toContainEqual(
          expect.stringMatching(/user_search_orgs USING COVERING INDEX user_search_orgs_org_id_unique/),
        );
        for (const step of plan.filter((s) => / users /.test(` ${s} `)))
          expect(step, where).toBe("SEARCH users USING INTEGER PRIMARY KEY (rowid=?)");
      } else {
        // The caller's organization is each range's scalar subquery, by primary keys.
        const ranges = plan.filter((step) => !/^SCALAR SUBQUERY|^SEARCH caller(_org)? USING/.test(step));
        expect(ranges.slice(0, 7), where).toEqual([
          "MULTI-INDEX OR",
          "INDEX 1",
          expect.stringMatching(/^SEARCH users USING INDEX users_org_email_unique \(org_id=\? AND <expr>>\? AND <expr><\?\)$/),
          "INDEX 2",
          "SEARCH users USING INDEX users_org_first_name_idx (org_id=? AND first_name_folded>? AND first_name_folded<?)",
          "INDEX 3",
          "SEARCH users USING INDEX users_org_last_name_idx (org_id=? AND last_name_folded>? AND last_name_folded<?)",
        ]);
      }
    }
  });

  it("the statements of the triggers that keep the search index use its rowid and the organization key's unique index", async () => {
    const org = await createOrg();
    const key = "SELECT (search_key << 33) | ((? IS NOT NULL) << 32) | ? FROM user_search_orgs WHERE org_id = ?";
    const statements = [
      { sql: `DELETE FROM users_search WHERE rowid = (${key})`, params: [null, 1, org.id] },
      {
        sql: "INSERT INTO user_search_orgs (org_id) SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM user_search_orgs WHERE org_id = ?1)",
        params: [org.id],
      },
      {
        sql: `INSERT INTO users_search (rowid, email, first_name, last_name) ${key.replace("FROM", ", 'e', 'f', 'l' FROM")}`,
        params: [null, 1, org.id],
      },
    ];
    for (const statement of statements) {
      const plan = await planOf(statement);
      expectIndexed(plan, statement.sql);
      expect(plan.join(" / "), statement.sql).toMatch(/user_search_orgs USING COVERING INDEX user_search_orgs_org_id_unique/);
    }
    expect(await planOf(statements[0]!)).toContain("SCAN users_search VIRTUAL TABLE INDEX 0:=");
  });

  it("the statements of the triggers that keep organization_user_counts use its primary key", async () => {
    const org = await createOrg();
    const plan = await planOf({
      sql: "UPDATE organization_user_counts SET live = live - 1, deleted = deleted + 1 WHERE org_id = ? AND org_role = ?",
      params: [org.id, 0],
    });
    expectIndexed(plan, "trigger update");
    expect(plan.join(" / ")).toMatch(
      /organization_user_counts USING (INDEX sqlite_autoindex_organization_user_counts_1|PRIMARY KEY)/,
    );
  });
});
