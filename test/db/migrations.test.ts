import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callWith } from "../helpers/faults";
import { tokenFor } from "../helpers/fixtures";
import { ids } from "../helpers/search";

// The migrations applied to a database that already holds data, as a deployment upgrades.

const ORG = "00000000-0000-4000-8000-0000000000a1";
const OWNER = "00000000-0000-4000-8000-0000000000a2";
const INVITED = "00000000-0000-4000-8000-0000000000a3";
const AT = "2026-01-01T00:00:00.000Z";

describe("migration 0004 (invitation delivery) on a database from before it", () => {
  it("keeps existing accounts signed in as verified, and supersedes their old invitations, keeping their history", async () => {
    const db = env.UPGRADE_DB;
    await applyD1Migrations(
      db,
      env.TEST_MIGRATIONS.filter((m) => m.name < "0004"),
    );
    const user = (id: string, org: string, email: string, role: number) =>
      db
        .prepare(
          `INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
             validated, password_hash, auth_method, created_at, updated_at) VALUES (?, ?, ?, 'A', 'B', 'a', 'b', ?, 0, 'x', 'LOCAL', ?, ?)`,
        )
        .bind(id, org, email, role, AT, AT);
    await db.batch([
      db.prepare("INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?, 'Old', ?, ?)").bind(ORG, AT, AT),
      user(OWNER, ORG, "owner@old.example", 255),
      user(INVITED, ORG, "invited@old.example", 0),
      db
        .prepare(
          "INSERT INTO invitations (id, user_id, org_id, email, invited_by, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(
          "i1",
          INVITED,
          ORG,
          "invited@old.example",
          OWNER,
          AT,
          null,
          "i2",
          INVITED,
          ORG,
          "invited@old.example",
          OWNER,
          AT,
          AT,
        ),
    ]);

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    const { results: users } = await db.prepare("SELECT id, validated FROM users ORDER BY id").all();
    expect(users).toEqual([
      { id: OWNER, validated: 1 },
      { id: INVITED, validated: 1 },
    ]);
    const { results: invitations } = await db
      .prepare("SELECT id, status, enqueued_at, sent_at, token_hash FROM invitations ORDER BY id")
      .all();
    expect(invitations).toEqual([
      { id: "i1", status: "superseded", enqueued_at: AT, sent_at: null, token_hash: null },
      { id: "i2", status: "superseded", enqueued_at: AT, sent_at: AT, token_hash: null },
    ]);
    // Both keep working through the API, and the addresses stay theirs.
    const res = await callWith({ DB: db }, "GET", `/organization/${ORG}`, { token: await tokenFor(INVITED) });
    expect(res.status, res.text).toBe(200);
    const taken = await callWith({ DB: db }, "POST", "/organization/users", {
      token: await tokenFor(OWNER),
      body: { email: "invited@old.example", password: "Passw0rd-ok", firstName: "C", lastName: "D" },
    });
    expect(taken.status, taken.text).toBe(409);
  });
});

describe("migration 0007 (user search) on a database from before it", () => {
  const ORG_A = "00000000-0000-4000-8000-0000000000b1";
  const ORG_B = "00000000-0000-4000-8000-0000000000b2";

  it("indexes the users written before it, deleted ones in their range, and can be run again to rebuild the index", async () => {
    const db = env.SEARCH_UPGRADE_DB;
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0007"));
    expect(migration?.name).toBe("0007_user_search.sql");
    await applyD1Migrations(
      db,
      env.TEST_MIGRATIONS.filter((m) => m.name < "0007"),
    );
    const user = (id: string, org: string, first: string, last: string, role: number, deletedAt: string | null = null) =>
      db
        .prepare(
          `INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
             validated, password_hash, auth_method, created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'x', 'LOCAL', ?, ?, ?)`,
        )
        .bind(
          id,
          org,
          `user-${id.slice(-2)}@old.example`,
          first,
          last,
          first.toLowerCase(),
          last.toLowerCase(),
          role,
          AT,
          AT,
          deletedAt,
        );
    const owner = `${ORG_A.slice(0, -2)}c1`;
    const written = [
      user(owner, ORG_A, "Owner", "Ancienne", 255),
      user(`${ORG_A.slice(0, -2)}c2`, ORG_A, "Élodie", "Ancienne", 0),
      user(`${ORG_A.slice(0, -2)}c3`, ORG_A, "Gone", "Ancienne", 0, AT),
      user(`${ORG_B.slice(0, -2)}c4`, ORG_B, "Other", "Ancienne", 255),
    ];
    await db.batch([
      db
        .prepare("INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?, 'A', ?, ?), (?, 'B', ?, ?)")
        .bind(ORG_A, AT, AT, ORG_B, AT, AT),
      ...written,
    ]);

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    const token = await tokenFor(owner);
    const search = async (query: string) => {
      const res = await callWith({ DB: db }, "GET", `/organization/users?${query}`, { token });
      expect(res.status, res.text).toBe(200);
      return { ids: ids(res), total: res.body.total };
    };
    const a = (n: number) => `${ORG_A.slice(0, -2)}c${n}`;
    const expectSearches = async () => {
      expect(await search("q=ancien")).toEqual({ ids: [a(1), a(2)], total: 2 });
      expect(await search("q=ancien&includeDeleted=true")).toEqual({ ids: [a(1), a(2), a(3)], total: 3 });
      expect(await search("q=%C3%89LODIE")).toEqual({ ids: [a(2)], total: 1 });
      expect(await search("q=go&includeDeleted=true")).toEqual({ ids: [a(3)], total: 1 });
      expect(await search("q=other")).toEqual({ ids: [], total: 0 });
    };
    await expectSearches();
    const entries = async () => (await db.prepare("SELECT count(*) AS n FROM users_search").first<{ n: number }>())?.n;
    expect(await entries()).toBe(4);

    // Run again as it stands, as after an import: nothing doubled, nothing lost.
    const rerun = () => db.batch((migration?.queries ?? []).map((q) => db.prepare(q)));
    await rerun();
    expect(await entries()).toBe(4);
    await expectSearches();

    // As before an export (which refuses a database holding a virtual table): the index and its
    // triggers dropped, a user written meanwhile, then the migration run again.
    await db.batch(
      [
        "DROP TRIGGER users_search_insert",
        "DROP TRIGGER users_search_update",
        "DROP TRIGGER users_search_delete",
        "DROP TABLE users_search",
      ].map((q) => db.prepare(q)),
    );
    await user(a(5), ORG_A, "Late", "Ancienne", 0).run();
    await rerun();
    expect(await entries()).toBe(5);
    expect(await search("q=ancien")).toEqual({ ids: [a(1), a(2), a(5)], total: 3 });
  });
});
