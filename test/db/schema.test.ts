import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { POLICIES } from "../../src/auth/policy";
import { listUsers, readUser, type ListFilter } from "../../src/db/users";
import { callerRef, createOrg } from "../helpers/fixtures";
import { expectIndexed, planOf, recordingD1, selectsMatches, type Execution } from "../helpers/recording";

// Invariants that must hold for every writer, not only for the API: checked with raw SQL
// straight on the real local D1.

const INSERT_USER = `INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded,
  org_role, validated, password_hash, auth_method, created_at, updated_at, deleted_at)
  VALUES (?, ?, ?, 'Raw', 'Row', 'raw', 'row', ?, ?, 'pbkdf2-sha256$1$AA$AA', 'LOCAL', ?, ?, ?)`;

function insertRaw(
  orgId: string,
  email: string,
  options: { role?: number; deletedAt?: string | null; validated?: boolean; id?: string } = {},
) {
  const now = new Date().toISOString();
  return env.DB.prepare(INSERT_USER)
    .bind(
      options.id ?? crypto.randomUUID(),
      orgId,
      email,
      options.role ?? 0,
      options.validated ? 1 : 0,
      now,
      now,
      options.deletedAt ?? null,
    )
    .run();
}

async function refusal(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    const messages: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
    return messages.join(" <- ");
  }
  throw new Error("the statement was accepted");
}

async function countByEmail(email: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE lower(email) = lower(?)")
    .bind(email)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("users: email uniqueness", () => {
  it("refuses a second row with the same email in one organization, verified or not, live or soft-deleted", async () => {
    const a = await createOrg();
    const email = `dup-${crypto.randomUUID()}@example.com`;
    await insertRaw(a.id, email);

    expect(await refusal(() => insertRaw(a.id, email))).toMatch(/UNIQUE/);
    expect(await refusal(() => insertRaw(a.id, email, { deletedAt: new Date().toISOString() }))).toMatch(/UNIQUE/);
    expect(await refusal(() => insertRaw(a.id, a.deleted.email))).toMatch(/UNIQUE/);
    expect(await countByEmail(email)).toBe(1);
  });

  it("lets unverified users of several organizations share an address, and one account verify it", async () => {
    const [a, b, c] = [await createOrg(), await createOrg(), await createOrg()];
    const email = `shared-${crypto.randomUUID()}@example.com`;
    const first = crypto.randomUUID();
    const second = crypto.randomUUID();
    await insertRaw(a.id, email, { id: first });
    await insertRaw(b.id, email, { id: second });
    expect(await countByEmail(email)).toBe(2);

    await env.DB.prepare("UPDATE users SET validated = 1 WHERE id = ?").bind(first).run();
    expect(await refusal(() => env.DB.prepare("UPDATE users SET validated = 1 WHERE id = ?").bind(second).run())).toMatch(
      /UNIQUE/,
    );
    // A verified holder keeps the address even once soft-deleted.
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), first).run();
    expect(await refusal(() => insertRaw(c.id, email, { validated: true }))).toMatch(/UNIQUE/);
    const verified = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE lower(email) = ? AND validated = 1")
      .bind(email)
      .first<{ n: number }>();
    expect(verified?.n).toBe(1);
  });

  it("the unique index itself refuses the same email in another case (CHECK constraints disabled to isolate it)", async () => {
    const org = await createOrg();
    const email = `case-${crypto.randomUUID()}@example.com`;
    await insertRaw(org.id, email);
    await env.DB.prepare("PRAGMA ignore_check_constraints = ON").run();
    try {
      const message = await refusal(() => insertRaw(org.id, email.toUpperCase()));
      expect(message).toMatch(/UNIQUE/);
      expect(message).not.toMatch(/CHECK/);
      expect(await refusal(() => insertRaw(org.id, email.replace(/^c/, "C")))).toMatch(/UNIQUE/);
    } finally {
      await env.DB.prepare("PRAGMA ignore_check_constraints = OFF").run();
    }
    expect(await countByEmail(email)).toBe(1);
  });

  it("refuses an UPDATE that gives a row another row's email", async () => {
    const org = await createOrg();
    const message = await refusal(() =>
      env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind(org.users.USER.email, org.users.BILLING.id).run(),
    );
    // Another organization's row too: fixture users are verified.
    const other = await createOrg();
    expect(
      await refusal(() =>
        env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind(org.users.USER.email, other.users.USER.id).run(),
      ),
    ).toMatch(/UNIQUE/);
    expect(message).toMatch(/UNIQUE/);
    expect(await countByEmail(org.users.USER.email)).toBe(1);
  });
});

describe("users: CHECK constraints", () => {
  it("refuses an email stored with upper-case letters, on INSERT and on UPDATE", async () => {
    const org = await createOrg();
    const email = `Mixed.Case-${crypto.randomUUID()}@Example.com`;
    expect(await refusal(() => insertRaw(org.id, email))).toMatch(/CHECK/);
    expect(await countByEmail(email)).toBe(0);

    const update = await refusal(() =>
      env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind(email, org.users.USER.id).run(),
    );
    expect(update).toMatch(/CHECK/);
    const row = await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(org.users.USER.id).first<{ email: string }>();
    expect(row?.email).toBe(org.users.USER.email);
  });

  it("refuses org_role 3 and every other value outside 0, 1, 2, 254, 255", async () => {
    const org = await createOrg();
    for (const role of [3, 100, 253, 256, -1, 1000]) {
      const email = `role-${role}-${crypto.randomUUID()}@example.com`;
      expect(await refusal(() => insertRaw(org.id, email, { role })), `role ${role}`).toMatch(/CHECK/);
      expect(await countByEmail(email)).toBe(0);
    }
    expect(
      await refusal(() => env.DB.prepare("UPDATE users SET org_role = 3 WHERE id = ?").bind(org.users.USER.id).run()),
    ).toMatch(/CHECK/);
  });

  it("accepts each of the five defined roles", async () => {
    const org = await createOrg();
    for (const role of [0, 1, 2, 254, 255]) {
      const email = `ok-${role}-${crypto.randomUUID()}@example.com`;
      const result = await insertRaw(org.id, email, { role });
      // (meta.changes also counts the organization_user_counts row its trigger writes.)
      expect(result.success).toBe(true);
      expect(await countByEmail(email)).toBe(1);
    }
  });

  it("refuses a user whose organization does not exist", async () => {
    const email = `orphan-${crypto.randomUUID()}@example.com`;
    expect(await refusal(() => insertRaw(crypto.randomUUID(), email))).toMatch(/FOREIGN KEY/);
    expect(await countByEmail(email)).toBe(0);
  });
});

describe("query plans of the users queries", () => {
  const filters: [string, ListFilter][] = [
    ["default", {}],
    ["includeDeleted", { includeDeleted: true }],
    ["role", { role: ROLE.WORKSPACES }],
    ["role + includeDeleted", { role: ROLE.USER, includeDeleted: true }],
    ["q", { q: "ada" }],
    ["q + role + includeDeleted", { q: "ada", role: ROLE.OWNER, includeDeleted: true }],
    ["short q", { q: "ad" }],
    ["short q + role", { q: "a", role: ROLE.OWNER }],
  ];

  it.each(filters)("the list page and its total use an index; only a search sorts, its matches (%s)", async (_name, filter) => {
    const org = await createOrg();
    for (const after of [undefined, { createdAt: "2026-01-01T00:00:00.000Z", id: org.users.OWNER.id }]) {
      const recorder = recordingD1();
      const db = drizzle(recorder.db);
      const caller = { caller: callerRef(org.users.WORKSPACES) };
      const page = await listUsers(db, POLICIES.listUsers, caller, filter, { limit: 10, after });
      expect(page.verdict).toBe("ok");
      expect(page.total).toBeGreaterThanOrEqual(0);
      expect(recorder.roundTrips, "the verdict, the page and its total in one batch").toBe(1);

      const selects = recorder.executions.filter((s) => /^\s*select/i.test(s.sql));
      expect(selects, JSON.stringify(recorder.executions)).toHaveLength(3);
      const [, pageQuery, totalQuery] = selects as [Execution, Execution, Execution];
      expect(pageQuery.sql).toMatch(/order by/i);
      // A search counts its matches; without one, the total is read from the kept counts.
      if (filter.q) expect(totalQuery.sql).toMatch(/count\(\*\)/i);
      else expect(totalQuery.sql).toMatch(/from "organization_user_counts"/i);

      const pagePlan = await planOf(pageQuery);
      expectIndexed(pagePlan, `page ${JSON.stringify(filter)} after=${Boolean(after)}`);
      // A cursor is a range of the index, not a filter over the organization's rows; a search reads
      // its matches through its own indexes (src/db/search.ts), and its cursor filters them.
      if (filter.q) expect(selectsMatches(pagePlan), pagePlan.join(" / ")).toBe(true);
      else if (after) expect(pagePlan.join(" / ")).toMatch(/\(created_at,id\)>\(\?,\?\)/);
      expectIndexed(await planOf(totalQuery), `total ${JSON.stringify(filter)}`);
    }
  });

  it("reading a user is one statement, the caller, their organization and the user each found by primary key", async () => {
    const org = await createOrg();
    const recorder = recordingD1();
    const db = drizzle(recorder.db);
    const read = await readUser(db, POLICIES.getUser, { caller: callerRef(org.users.WORKSPACES), targetId: org.users.USER.id });
    expect(read.verdict).toBe("ok");
    expect(read.row?.id).toBe(org.users.USER.id);
    expect(recorder.roundTrips).toBe(1);
    const [statement] = recorder.executions as [Execution];
    const plan = await planOf(statement);
    expectIndexed(plan, "readUser");
    for (const alias of ["caller", "caller_org", "target"]) {
      expect(plan.join(" / ")).toMatch(
        new RegExp(`SEARCH ${alias} USING (INDEX sqlite_autoindex_\\w+_1|PRIMARY KEY) \\(id=\\?\\)`),
      );
    }
  });
});
