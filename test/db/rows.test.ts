import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { POLICIES } from "../../src/auth/policy";
import { allPrepared, batchPrepared, createDb } from "../../src/db/client";
import { organizations, users } from "../../src/db/schema";
import { shownColumns } from "../../src/db/users";
import { targets, verdictOf } from "../../src/db/verdict";
import { callerRef, createOrg } from "../helpers/fixtures";

// The compiled row mapping of prepared statements (src/db/client.ts) against Drizzle's own, on
// the real database: the same objects for the shapes the API prepares (flat columns, a verdict's
// CASE, a nested and left-joined selection whose joined side is missing, SQL fields with decoders
// and an alias, an update's RETURNING), from a single statement's arrays and from a batch's
// objects alike; and Drizzle's own mapping is not what produced them.

const db = () => createDb(env.DB);

async function shapes() {
  const org = await createOrg();
  const owner = org.users.OWNER;
  const target = targets;
  const verdict = verdictOf(POLICIES.getUser, { caller: callerRef({ id: owner.id }), targetId: owner.id });
  return {
    orgId: org.id,
    statements: {
      flat: db().select(shownColumns(users)).from(users).where(eq(users.orgId, org.id)).prepare(),
      verdict: verdict
        .read(db(), { user: shownColumns(targets) })
        .limit(1)
        .prepare(),
      missingJoin: db()
        .select({
          name: organizations.name,
          counted: sql<number>`count(*)`.mapWith(Number),
          flag: sql<boolean>`(1 = 1)`.mapWith(Boolean),
          named: sql<string>`'x'`.as("named"),
          user: shownColumns(target),
        })
        .from(organizations)
        .leftJoin(target, eq(target.id, "no such user"))
        .where(eq(organizations.id, org.id))
        .groupBy(organizations.id)
        .prepare(),
      returning: db()
        .update(users)
        .set({ updatedAt: "2026-01-01T00:00:00.000Z" })
        .where(eq(users.orgId, org.id))
        .returning(shownColumns(users))
        .prepare(),
    },
  };
}

describe("the compiled row mapping", () => {
  afterEach(() => vi.restoreAllMocks());

  it("maps a single statement's rows as Drizzle does", async () => {
    const { statements } = await shapes();
    for (const [name, statement] of Object.entries(statements)) {
      const drizzleMapping = vi.spyOn(statement, "mapResult");
      const rows = await allPrepared(db(), statement, {});
      expect(drizzleMapping, name).not.toHaveBeenCalled();
      drizzleMapping.mockRestore();
      const query = statement.getQuery();
      const raw = await env.DB.prepare(query.sql)
        .bind(...(query.params as unknown[]))
        .raw();
      expect(rows, name).toStrictEqual(statement.mapResult(raw, false));
      expect((rows as unknown[]).length, name).toBeGreaterThan(0);
    }
  });

  it("maps a batch's rows as Drizzle does", async () => {
    const { statements } = await shapes();
    const list = Object.values(statements);
    const drizzleMappings = list.map((statement) => vi.spyOn(statement, "mapResult"));
    const mapped = await batchPrepared(db(), [
      [statements.flat, {}],
      [statements.verdict, {}],
      [statements.missingJoin, {}],
      [statements.returning, {}],
    ]);
    for (const spy of drizzleMappings) expect(spy).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    const results = await env.DB.batch(
      list.map((statement) => {
        const query = statement.getQuery();
        return env.DB.prepare(query.sql).bind(...(query.params as unknown[]));
      }),
    );
    list.forEach((statement, i) => expect(mapped[i]).toStrictEqual(statement.mapResult(results[i], true)));
    // The left join found no user: Drizzle's rule makes the joined object null, and so does ours;
    // the SQL fields went through their decoders.
    expect(mapped[2][0]).toMatchObject({ counted: 1, flag: true, named: "x", user: null });
    expect(typeof mapped[2][0]?.name).toBe("string");
    expect(mapped[1][0]?.verdict).toBe("ok");
  });
});
