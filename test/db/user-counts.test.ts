import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { POLICIES } from "../../src/auth/policy";
import { createDb } from "../../src/db/client";
import { listUsers, type ListFilter } from "../../src/db/users";
import { call } from "../helpers/api";
import { callerRef, createOrg, insertOrganization, insertUser } from "../helpers/fixtures";

// organization_user_counts is kept by triggers on users (migrations 0001 and 0002), so a list's
// total reads a few rows instead of counting an organization's users. It must equal the count of
// the users themselves after every kind of write, by the API or by anyone else.

const AGGREGATE =
  "SELECT org_id, org_role, sum(deleted_at IS NULL), sum(deleted_at IS NOT NULL) FROM users WHERE org_id LIKE ?1 GROUP BY org_id, org_role";
const KEPT = "SELECT org_id, org_role, live, deleted FROM organization_user_counts WHERE org_id LIKE ?1";
// Both directions of the difference, in one statement so that it reads one state of the database.
const MISMATCHES = `SELECT (SELECT count(*) FROM (${AGGREGATE} EXCEPT ${KEPT}))
  + (SELECT count(*) FROM (${KEPT} AND (live <> 0 OR deleted <> 0) EXCEPT ${AGGREGATE})) AS n`;

async function mismatches(orgId = "%"): Promise<number> {
  const row = await env.DB.prepare(MISMATCHES).bind(orgId).first<{ n: number }>();
  return row?.n ?? -1;
}

async function expectCounted(...orgIds: string[]) {
  for (const orgId of orgIds) expect(await mismatches(orgId), `counts of ${orgId}`).toBe(0);
}

const FILTERS: ListFilter[] = [
  {},
  { includeDeleted: true },
  ...[ROLE.USER, ROLE.BILLING, ROLE.WORKSPACES, ROLE.ADMINISTRATOR, ROLE.OWNER].flatMap((role) => [
    { role },
    { role, includeDeleted: true },
  ]),
];

/** Every filter's total as `caller` (a WORKSPACES or higher user of the organization) lists it. */
async function expectTotals(orgId: string, caller: { id: string }) {
  for (const filter of FILTERS) {
    const conditions = ["org_id = ?"];
    const values: unknown[] = [orgId];
    if (!filter.includeDeleted) conditions.push("deleted_at IS NULL");
    if (filter.role !== undefined) {
      conditions.push("org_role = ?");
      values.push(filter.role);
    }
    const counted = await env.DB.prepare(`SELECT count(*) AS n FROM users WHERE ${conditions.join(" AND ")}`)
      .bind(...values)
      .first<{ n: number }>();
    const page = await listUsers(createDb(env.DB), POLICIES.listUsers, { caller: callerRef(caller) }, filter, { limit: 1 });
    expect(page.total, JSON.stringify(filter)).toBe(counted?.n);
  }
}

describe("organization_user_counts", () => {
  it("counts the users written by raw INSERTs, live and soft-deleted, per role", async () => {
    const org = await createOrg();
    await insertUser(org.id, ROLE.BILLING, { deleted: true });
    await expectCounted(org.id);
    await expectTotals(org.id, org.users.OWNER);
    const rows = await env.DB.prepare(
      "SELECT org_role, live, deleted FROM organization_user_counts WHERE org_id = ? ORDER BY org_role",
    )
      .bind(org.id)
      .all();
    expect(rows.results).toEqual([
      { org_role: ROLE.USER, live: 1, deleted: 1 },
      { org_role: ROLE.BILLING, live: 1, deleted: 1 },
      { org_role: ROLE.WORKSPACES, live: 1, deleted: 0 },
      { org_role: ROLE.ADMINISTRATOR, live: 1, deleted: 0 },
      { org_role: ROLE.OWNER, live: 1, deleted: 0 },
    ]);
  });

  it("follows every write of the API: create, update of the role, delete, reactivate", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const created = await call("POST", "/organization/users", {
      token,
      body: {
        email: `counted-${crypto.randomUUID()}@example.com`,
        password: "Passw0rd-ok",
        firstName: "C",
        lastName: "D",
        orgRole: 2,
      },
    });
    expect(created.status).toBe(201);
    const noInvite = await call("POST", "/organization/users", {
      token,
      body: {
        email: `quiet-${crypto.randomUUID()}@example.com`,
        password: "Passw0rd-ok",
        firstName: "Q",
        lastName: "T",
        sendInvite: false,
      },
    });
    expect(noInvite.status).toBe(201);
    await expectCounted(org.id);

    const id = created.body.data.id as string;
    expect((await call("PUT", `/organization/users/${id}`, { token, body: { orgRole: 1 } })).status).toBe(200);
    await expectCounted(org.id);
    expect((await call("DELETE", `/organization/users/${id}`, { token })).status).toBe(200);
    await expectCounted(org.id);
    expect((await call("POST", `/organization/users/${id}/activate`, { token })).status).toBe(200);
    await expectCounted(org.id);
    expect(
      (await call("PUT", `/organization/users/${org.users.ADMINISTRATOR.id}`, { token, body: { orgRole: 255 } })).status,
    ).toBe(200);
    expect(
      (await call("DELETE", `/organization/users/${org.users.OWNER.id}`, { token: org.users.ADMINISTRATOR.token })).status,
    ).toBe(200);
    await expectCounted(org.id);
    // The first owner is deleted by now; the promoted one lists.
    await expectTotals(org.id, org.users.ADMINISTRATOR);

    const list = await call("GET", "/organization/users?includeDeleted=true&limit=1", { token: org.users.ADMINISTRATOR.token });
    const all = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE org_id = ?").bind(org.id).first<{ n: number }>();
    expect(list.body.total).toBe(all?.n);
  });

  it("follows raw writes too: role, deletion, a move to another organization, a hard DELETE", async () => {
    const a = await createOrg();
    const b = await insertOrganization();
    const user = a.users.USER.id;
    const raw = (sql: string, ...values: unknown[]) =>
      env.DB.prepare(sql)
        .bind(...values)
        .run();
    await raw("UPDATE users SET org_role = 254 WHERE id = ?", user);
    await expectCounted(a.id);
    await raw("UPDATE users SET deleted_at = ? WHERE id = ?", new Date().toISOString(), user);
    await expectCounted(a.id);
    await raw("UPDATE users SET deleted_at = ? WHERE id = ?", new Date(Date.now() + 1000).toISOString(), user);
    await expectCounted(a.id);
    await raw("UPDATE users SET org_id = ?, deleted_at = NULL, org_role = 0 WHERE id = ?", b, user);
    await expectCounted(a.id, b);
    await raw("DELETE FROM invitations WHERE user_id = ? OR invited_by = ?", user, user);
    await raw("DELETE FROM users WHERE id = ?", user);
    await expectCounted(a.id, b);
    await expectTotals(a.id, a.users.OWNER);
    await expectTotals(b, await insertUser(b, ROLE.OWNER));
  });

  it("does not move when the write is refused or its batch rolls back", async () => {
    const org = await createOrg();
    const before = await env.DB.prepare(
      "SELECT org_role, live, deleted FROM organization_user_counts WHERE org_id = ? ORDER BY org_role",
    )
      .bind(org.id)
      .all();
    await expect(
      env.DB.prepare("UPDATE users SET org_role = 3 WHERE id = ?").bind(org.users.USER.id).run(),
      "CHECK refuses the role",
    ).rejects.toThrow(/CHECK/);
    await expect(
      env.DB.batch([
        env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), org.users.BILLING.id),
        env.DB.prepare("INSERT INTO users (id) VALUES (NULL)"),
      ]),
      "the batch fails on its second statement",
    ).rejects.toThrow();
    const after = await env.DB.prepare(
      "SELECT org_role, live, deleted FROM organization_user_counts WHERE org_id = ? ORDER BY org_role",
    )
      .bind(org.id)
      .all();
    expect(after.results).toEqual(before.results);
    await expectCounted(org.id);
  });

  it("goes with its organization when the organization row is deleted (as npm run seed does)", async () => {
    const org = await insertOrganization();
    await insertUser(org, ROLE.OWNER);
    const counted = () =>
      env.DB.prepare("SELECT count(*) AS n FROM organization_user_counts WHERE org_id = ?").bind(org).first<{ n: number }>();
    expect((await counted())?.n).toBe(1);
    await env.DB.batch([
      env.DB.prepare("DELETE FROM users WHERE org_id = ?").bind(org),
      env.DB.prepare("DELETE FROM organizations WHERE id = ?").bind(org),
    ]);
    expect((await counted())?.n).toBe(0);
  });

  it("is rebuilt from the users by the migration's backfill", async () => {
    await createOrg();
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.includes("user_count_triggers"));
    const backfill = migration?.queries.find((q) => /INSERT INTO `organization_user_counts`[^;]*\bFROM `users`/i.test(q));
    expect(backfill, "the backfill statement of the migration").toBeDefined();
    // In one batch, so that no other write lands between the two.
    await env.DB.batch([env.DB.prepare("DELETE FROM organization_user_counts"), env.DB.prepare(backfill as string)]);
    expect(await mismatches()).toBe(0);
  });
});
