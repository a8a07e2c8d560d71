import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callWith } from "../helpers/faults";
import { tokenFor } from "../helpers/fixtures";

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
