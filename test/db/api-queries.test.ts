import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { ROLE } from "../../src/auth/roles";
import { SWEEP_AFTER_MS } from "../../src/invitations/sweep";
import { uuidv7 } from "../../src/lib/uuid";
import { createOrg, insertUser } from "../helpers/fixtures";
import {
  DEAD_LETTER_QUEUE,
  deliver,
  invitationsOf,
  invitedUser,
  recordingEmail,
  recordingQueue,
  runSweep,
} from "../helpers/invitations";
import { expectIndexed, planOf, recordingD1, type Execution, type Recorder } from "./recording";

// Every statement the API sends, recorded from real requests to every operation (successes and
// the refusals that read the database), must reach users, organizations and the kept counts
// through an index; and a read request costs at most two D1 round trips (authentication, then
// its own statements, batched when there are several).

type Sent = { name: string; status: number; roundTrips: number };

async function send(
  recorder: Recorder,
  name: string,
  method: string,
  path: string,
  init: { token?: string; body?: unknown } = {},
): Promise<Sent & { body: any }> {
  const before = recorder.roundTrips;
  const headers = new Headers();
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  const response = await app.request(
    path,
    { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) },
    { ...env, DB: recorder.db },
  );
  return { name, status: response.status, roundTrips: recorder.roundTrips - before, body: await response.json() };
}

describe("the statements the API sends", () => {
  it("use an index for every table they read, and reads cost at most two D1 round trips", async () => {
    const org = await createOrg();
    const recorder = recordingD1();
    const owner = org.users.OWNER.token;
    const email = () => `plan-${uuidv7()}@example.com`;
    const newUser = (extra: Record<string, unknown> = {}) => ({
      email: email(),
      password: "Passw0rd-ok",
      firstName: "Plan",
      lastName: "Check",
      ...extra,
    });
    const USERS = "/organization/users";
    const one = (id: string) => `/organization/users/${id}`;

    const reads: Sent[] = [];
    const writes: Sent[] = [];
    const read = async (name: string, path: string, token = owner) => {
      const sent = await send(recorder, name, "GET", path, { token });
      reads.push(sent);
      return sent;
    };
    const write = async (name: string, method: string, path: string, body?: unknown, token = owner) => {
      const sent = await send(recorder, name, method, path, { token, body });
      writes.push(sent);
      return sent;
    };

    await read("GET organization", `/organization/${org.id}`);
    const first = await read("GET list", `${USERS}?limit=2`);
    await read("GET list, next page", `${USERS}?limit=2&cursor=${first.body.nextCursor}`);
    await read("GET list, includeDeleted", `${USERS}?includeDeleted=true`);
    await read("GET list, role", `${USERS}?role=0`);
    await read("GET list, role and cursor", `${USERS}?role=0&limit=1&cursor=${first.body.nextCursor}`);
    await read("GET list, search", `${USERS}?q=lovelace&includeDeleted=true&role=255`);
    const found = await read("GET list, search, live", `${USERS}?q=lovelace&limit=2`);
    await read("GET list, search, next page", `${USERS}?q=lovelace&limit=2&cursor=${found.body.nextCursor}`);
    await read("GET list, search, includeDeleted", `${USERS}?q=lovelace&includeDeleted=true`);
    await read("GET list, prefix search", `${USERS}?q=lo`);
    await read("GET list, prefix search, role and includeDeleted", `${USERS}?q=lo&role=0&includeDeleted=true`);
    await read("GET user", one(org.users.USER.id));
    await read("GET user, deleted", `${one(org.deleted.id)}?includeDeleted=true`);
    await read("GET user, unknown", one(uuidv7()));

    await write("PUT organization", "PUT", `/organization/${org.id}`, { city: "Lisbon" });
    const created = await write("POST user", "POST", USERS, newUser({ orgRole: 1 }));
    await write("POST user, no invitation", "POST", USERS, newUser({ sendInvite: false }));
    await write("POST user, address taken", "POST", USERS, newUser({ email: org.deleted.email }));
    await write("PUT user", "PUT", one(created.body.data.id), { name: "Renamed", orgRole: 2 });
    await write(
      "PUT user, role above the caller's",
      "PUT",
      one(org.users.OWNER.id),
      { orgRole: 0 },
      org.users.ADMINISTRATOR.token,
    );
    await write("PUT user, last owner", "PUT", one(org.users.OWNER.id), { orgRole: 0 });
    await write("DELETE user", "DELETE", one(created.body.data.id));
    await write("DELETE user, unknown", "DELETE", one(uuidv7()));
    await write("POST activate", "POST", `${one(created.body.data.id)}/activate`);
    await write("POST activate, not deleted", "POST", `${one(org.users.USER.id)}/activate`);

    const statuses = Object.fromEntries([...reads, ...writes].map((s) => [s.name, s.status]));
    expect(statuses).toEqual({
      "GET organization": 200,
      "GET list": 200,
      "GET list, next page": 200,
      "GET list, includeDeleted": 200,
      "GET list, role": 200,
      "GET list, role and cursor": 200,
      "GET list, search": 200,
      "GET list, search, live": 200,
      "GET list, search, next page": 200,
      "GET list, search, includeDeleted": 200,
      "GET list, prefix search": 200,
      "GET list, prefix search, role and includeDeleted": 200,
      "GET user": 200,
      "GET user, deleted": 200,
      "GET user, unknown": 404,
      "PUT organization": 200,
      "POST user": 201,
      "POST user, no invitation": 201,
      "POST user, address taken": 409,
      "PUT user": 200,
      "PUT user, role above the caller's": 403,
      "PUT user, last owner": 409,
      "DELETE user": 200,
      "DELETE user, unknown": 404,
      "POST activate": 200,
      "POST activate, not deleted": 400,
    });

    for (const sent of reads) expect(sent.roundTrips, sent.name).toBeLessThanOrEqual(2);
    expect(reads[0]?.roundTrips, "GET /organization/{orgId}: the caller and the organization in one statement").toBe(1);

    const distinct = new Map<string, Execution>();
    for (const execution of recorder.executions) distinct.set(execution.sql, execution);
    expect(distinct.size).toBeGreaterThan(10);
    for (const execution of distinct.values()) {
      const plan = await planOf(execution);
      // An INSERT of VALUES reads nothing; every other statement has a plan to check.
      if (plan.length === 0) {
        expect(execution.sql, "only an INSERT of VALUES has no plan").toMatch(/^\s*insert into "\w+" \([^)]*\) values/i);
        continue;
      }
      expectIndexed(plan, execution.sql);
    }
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
    // Authentication, then the operation's one batch; the public routes have no authentication.
    // Verifying reads the token first (a self-registration needs its password checked), then
    // verifies, then opens the new session: three.
    expect([resent, refused, checked, verified].map((s) => s.roundTrips)).toEqual([2, 2, 1, 3]);

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
    const body = { email: org.users.USER.email, password: "Fixture-pass-1" };
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
      expect(sent.roundTrips, path).toBe(2);
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
        expect(plan.slice(0, 7), where).toEqual([
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
