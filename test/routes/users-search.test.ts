import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { call, type ApiResponse } from "../helpers/api";
import { createOrg, createTwoOrgs, insertUser, type FixtureUser, type OrgFixture } from "../helpers/fixtures";

// GET /organization/users?q=: what a search matches. Folded with toLowerCase (as the stored copies
// are), q of three characters or more is a literal substring of the email, first or last name; one
// or two characters are a prefix of one of them. The fixture organization's users are all "Ada
// Lovelace" with user-<id>@example.com addresses, which the decoys below rely on.

type Params = Record<string, string | number | boolean | undefined>;

function search(token: string, params: Params): Promise<ApiResponse> {
  const query = Object.entries(params)
    .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return call("GET", `/organization/users?${query}`, { token });
}

const ids = (res: ApiResponse): string[] => res.body.data.map((u: { id: string }) => u.id);

/** The ids and total of a search, asserted 200. */
async function found(org: OrgFixture, params: Params): Promise<{ ids: string[]; total: number }> {
  const res = await search(org.users.OWNER.token, params);
  expect(res.status, res.text).toBe(200);
  return { ids: ids(res), total: res.body.total };
}

/** Every page of a search with `limit`, following nextCursor; each page's total asserted equal. */
async function walk(org: OrgFixture, params: Params, limit: number): Promise<{ ids: string[]; total: number }> {
  const seen: string[] = [];
  let cursor: string | undefined;
  let total: number | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await search(org.users.OWNER.token, { ...params, limit, cursor });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    total ??= res.body.total;
    expect(res.body.total).toBe(total);
    seen.push(...ids(res));
    if (res.body.nextCursor === null) return { ids: seen, total: total as number };
    cursor = res.body.nextCursor;
  }
  throw new Error("pagination did not end");
}

const only = (...users: FixtureUser[]) => ({ ids: users.map((u) => u.id), total: users.length });

describe("GET /organization/users?q=: substrings of three characters or more", () => {
  it("matches in the middle of the email, the first name and the last name, counting every match", async () => {
    const org = await createOrg();
    const mark = crypto.randomUUID().slice(0, 6);
    const byEmail = await insertUser(org.id, ROLE.USER, { email: `pre${mark}post@example.com` });
    const byFirst = await insertUser(org.id, ROLE.USER, { firstName: `Jo${mark}anna` });
    const byLast = await insertUser(org.id, ROLE.BILLING, { lastName: `Van${mark}Dyke` });

    expect(await found(org, { q: mark })).toEqual(only(byEmail, byFirst, byLast));
    expect(await found(org, { q: `e${mark}p` })).toEqual(only(byEmail));
    expect(await found(org, { q: `o${mark}a` })).toEqual(only(byFirst));
    expect(await found(org, { q: `${mark}dyk` })).toEqual(only(byLast));
    // Three characters in the middle: "ove" of the five fixtures' and the first two users' Lovelace.
    expect((await found(org, { q: "ove" })).total).toBe(7);
    expect(await found(org, { q: "xmp" })).toEqual({ ids: [], total: 0 });
  });

  it("folds case as the application does, non-ASCII included: 'ÉLODIE' finds élodie", async () => {
    const org = await createOrg();
    const res = await call("POST", "/organization/users", {
      token: org.users.OWNER.token,
      body: {
        email: `reader-${crypto.randomUUID()}@example.com`,
        password: "Proust-Swann-1913",
        firstName: "élodie",
        lastName: "Ørsted-Ærø",
        sendInvite: false,
      },
    });
    expect(res.status, res.text).toBe(201);
    const id = res.body.data.id;
    const plain = await insertUser(org.id, ROLE.USER, { firstName: "Elodie", lastName: "Orsted-Aero" });

    for (const q of ["ÉLODIE", "Élodie", "élodie", "ÉLO", "ØRSTED", "ted-ærø", "STED-ÆR"]) {
      expect(await found(org, { q }), q).toEqual({ ids: [id], total: 1 });
    }
    // Folding is case only: no diacritic is dropped, and what both share matches both.
    expect(await found(org, { q: "ELODIE" })).toEqual(only(plain));
    // (The fixture clock runs behind the real one: the inserted user sorts first.)
    expect(await found(org, { q: "LODIE" })).toEqual({ ids: [plain.id, id], total: 2 });
  });

  it("matches a q of four-byte characters and of mixed scripts", async () => {
    const org = await createOrg();
    const emoji = await insertUser(org.id, ROLE.USER, { firstName: "x\u{1F600}\u{1D11E}\u{20000}y" });
    const mixed = await insertUser(org.id, ROLE.USER, { lastName: "名前テスト" });
    expect(await found(org, { q: "\u{1F600}\u{1D11E}\u{20000}" })).toEqual(only(emoji));
    expect(await found(org, { q: "前テス" })).toEqual(only(mixed));
  });
});

describe("GET /organization/users?q=: one or two characters match as a prefix", () => {
  it("matches a prefix of the email, the first name or the last name, and nothing in the middle", async () => {
    const org = await createOrg();
    const byEmail = await insertUser(org.id, ROLE.USER, { email: `qx-${crypto.randomUUID()}@example.com` });
    const byFirst = await insertUser(org.id, ROLE.USER, { firstName: "Qxavier" });
    const byLast = await insertUser(org.id, ROLE.USER, { lastName: "QXander" });
    // "qx" only inside: not a prefix of any of them.
    await insertUser(org.id, ROLE.USER, { email: `aqx-${crypto.randomUUID()}@example.com`, firstName: "Aqx", lastName: "Bqx" });

    expect(await found(org, { q: "QX" })).toEqual(only(byEmail, byFirst, byLast));
    expect(await found(org, { q: "q" })).toEqual(only(byEmail, byFirst, byLast));
    expect(await found(org, { q: "xa" })).toEqual({ ids: [], total: 0 });
    // From three characters on, the middle matches again.
    expect((await found(org, { q: "aqx" })).total).toBe(1);
    expect((await found(org, { q: "qxa" })).total).toBe(2);
  });

  it("does not match a two-character substring that starts no field, though three characters there would", async () => {
    const org = await createOrg();
    // Every fixture is Ada Lovelace: "ov" and "ve" are inside Lovelace, "lo" starts it.
    expect(await found(org, { q: "ov" })).toEqual({ ids: [], total: 0 });
    expect(await found(org, { q: "ve" })).toEqual({ ids: [], total: 0 });
    expect((await found(org, { q: "LO" })).total).toBe(5);
    expect((await found(org, { q: "ovE" })).total).toBe(5);
  });

  it("counts characters, not UTF-16 units or bytes, after folding: one emoji, two accented letters", async () => {
    const org = await createOrg();
    const emoji = await insertUser(org.id, ROLE.USER, { firstName: "\u{1F600}smile" });
    const accented = await insertUser(org.id, ROLE.USER, { lastName: "Éçole" });
    await insertUser(org.id, ROLE.USER, { firstName: "a\u{1F600}" });
    expect(await found(org, { q: "\u{1F600}" })).toEqual(only(emoji));
    expect(await found(org, { q: "ÉÇ" })).toEqual(only(accented));
    // The highest code point has no next one: its range is open-ended, and matches nothing here.
    expect(await found(org, { q: "\u{10FFFF}" })).toEqual({ ids: [], total: 0 });
  });
});

describe("GET /organization/users?q=: nothing in q is syntax", () => {
  // Each q is stored, as is, in one user's last name; each would also match the fixtures' "Ada
  // Lovelace" (or fail to parse) if it reached SQL or FTS5 as an expression.
  const LITERAL: [string, string][] = [
    ["a double quote", 'o"ada'],
    ["doubled double quotes", '"" OR ""'],
    ["a phrase in quotes", '"ada"'],
    ["a prefix star", "lov*"],
    ["a star alone in the middle", "a * b"],
    ["a hyphen (FTS5 column exclusion)", "-first_name:ada"],
    ["AND", "ada AND lovelace"],
    ["OR", "zzz OR ada"],
    ["NOT", "ada NOT zzz"],
    ["NEAR with a parenthesis", "NEAR(ada lovelace)"],
    ["an unclosed NEAR(", "NEAR("],
    ["parentheses", "(ada)"],
    ["a column filter with a colon", "first_name:ada"],
    ["a column set", "{first_name last_name}: ada"],
    ["a caret (initial token)", "^ada"],
    ["a plus (phrase concatenation)", "ada + lovelace"],
    ["LIKE wildcards", "a%d_a"],
    ["a single quote and a comment", "ada'--"],
    ["a backslash", "ada\\lov"],
  ];

  it.each(LITERAL)("matches %s literally, and only the user holding it", async (_why, text) => {
    const org = await createOrg();
    const holder = await insertUser(org.id, ROLE.USER, { lastName: `x${text}y` });
    expect(await found(org, { q: text })).toEqual(only(holder));
    expect(await found(org, { q: text.toUpperCase(), includeDeleted: true })).toEqual(only(holder));
  });

  it.each([
    ["%", "%percent"],
    ["_", "_under"],
    ['"', '"quoted'],
    ["*", "*star"],
    [":", ":colon"],
    ["-", "-dash"],
    ["(", "(paren"],
    ["^", "^caret"],
  ])("matches the one-character q %s as a literal prefix", async (q, firstName) => {
    const org = await createOrg();
    const holder = await insertUser(org.id, ROLE.USER, { firstName });
    await insertUser(org.id, ROLE.USER, { firstName: `a${firstName}` });
    expect(await found(org, { q })).toEqual(only(holder));
  });
});

describe("GET /organization/users?q= with the other filters", () => {
  it("combines with role, includeDeleted and the cursor, for a substring and a prefix alike", async () => {
    const org = await createOrg();
    const tag = `Zq${crypto.randomUUID().slice(0, 5)}`;
    const users: FixtureUser[] = [];
    for (let i = 0; i < 9; i++) {
      const role = i % 3 === 0 ? ROLE.WORKSPACES : ROLE.USER;
      users.push(await insertUser(org.id, role, { lastName: `${tag}-${i}`, deleted: i % 4 === 3 }));
    }
    await insertUser(org.id, ROLE.USER, { lastName: "Other" });
    const expected = (filter: (u: FixtureUser, i: number) => boolean) => {
      const chosen = users.filter(filter);
      return { ids: chosen.map((u) => u.id), total: chosen.length };
    };

    for (const q of [tag, tag.slice(0, 2)]) {
      // The short prefix "zq" is the tag's own start, and nothing else begins with it.
      expect(await walk(org, { q }, 2), q).toEqual(expected((u) => !u.deleted));
      expect(await walk(org, { q, includeDeleted: true }, 2), q).toEqual(expected(() => true));
      expect(await walk(org, { q, role: ROLE.WORKSPACES }, 1), q).toEqual(
        expected((u) => u.role === ROLE.WORKSPACES && !u.deleted),
      );
      expect(await walk(org, { q, role: ROLE.USER, includeDeleted: true }, 2), q).toEqual(expected((u) => u.role === ROLE.USER));
      expect(await walk(org, { q, role: ROLE.OWNER }, 2), q).toEqual({ ids: [], total: 0 });
    }
  });

  it("reflects every write in the next search: creation, renaming, soft delete, reactivation, hard delete", async () => {
    const org = await createOrg();
    const owner = org.users.OWNER.token;
    const created = await call("POST", "/organization/users", {
      token: owner,
      body: {
        email: `tr-${crypto.randomUUID()}@example.com`,
        password: "Trigger-pass-1",
        firstName: "Wilhelmina",
        lastName: "Zed",
      },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.data.id;
    const one = { ids: [id], total: 1 };
    const none = { ids: [], total: 0 };
    expect(await found(org, { q: "helmin" })).toEqual(one);
    expect(await found(org, { q: "wi" })).toEqual(one);

    const renamed = await call("PUT", `/organization/users/${id}`, { token: owner, body: { name: "Bartholomew" } });
    expect(renamed.status, renamed.text).toBe(200);
    expect(await found(org, { q: "helmin" })).toEqual(none);
    expect(await found(org, { q: "wi" })).toEqual(none);
    expect(await found(org, { q: "tholom" })).toEqual(one);
    expect(await found(org, { q: "ba" })).toEqual(one);

    const deleted = await call("DELETE", `/organization/users/${id}`, { token: owner });
    expect(deleted.status, deleted.text).toBe(200);
    expect(await found(org, { q: "tholom" })).toEqual(none);
    expect(await found(org, { q: "tholom", includeDeleted: true })).toEqual(one);
    expect(await found(org, { q: "ba", includeDeleted: true })).toEqual(one);

    const activated = await call("POST", `/organization/users/${id}/activate`, { token: owner });
    expect(activated.status, activated.text).toBe(200);
    expect(await found(org, { q: "tholom" })).toEqual(one);

    // Writes no route makes, straight to the table: the triggers cover every writer.
    await env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind(`renamed-${id}@example.org`, id).run();
    expect(await found(org, { q: "example.org" })).toEqual(one);
    expect(await found(org, { q: `tr-` })).toEqual(none);
    await env.DB.batch([
      env.DB.prepare("DELETE FROM invitations WHERE user_id = ?").bind(id),
      env.DB.prepare("DELETE FROM users WHERE id = ?").bind(id),
    ]);
    expect(await found(org, { q: "tholom", includeDeleted: true })).toEqual(none);
    expect(await entriesOf(org.id)).toEqual(await usersOf(org.id));
  });

  it("keeps exactly one entry per user, in its organization's live or deleted range", async () => {
    const { a, b } = await createTwoOrgs();
    const moved = await insertUser(a.id, ROLE.USER, { lastName: "Mover" });
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), a.users.USER.id).run();
    // A user moved to another organization (no route does it) is found there, and no longer here.
    await env.DB.prepare("UPDATE users SET org_id = ? WHERE id = ?").bind(b.id, moved.id).run();
    expect(await found(a, { q: "mover" })).toEqual({ ids: [], total: 0 });
    expect(await found(b, { q: "mover" })).toEqual(only(moved));
    for (const org of [a, b]) expect(await entriesOf(org.id)).toEqual(await usersOf(org.id));
  });
});

describe("GET /organization/users?q= across organizations", () => {
  it("never returns or counts another organization's users, whatever the q and the filters", async () => {
    const { a, b } = await createTwoOrgs();
    const tag = `Shared${crypto.randomUUID().slice(0, 4)}`;
    const ours = await insertUser(a.id, ROLE.USER, { firstName: tag });
    for (let i = 0; i < 3; i++) await insertUser(b.id, ROLE.USER, { firstName: tag, deleted: i === 2 });
    const ofB = await usersOf(b.id);
    const theirs = new Set([...ofB.live, ...ofB.deleted]);

    for (const params of [
      { q: tag },
      { q: tag, includeDeleted: true },
      { q: tag.slice(0, 2), includeDeleted: true },
      { q: tag, role: ROLE.USER, includeDeleted: true },
      { q: "example.com", includeDeleted: true },
      { q: "ad", includeDeleted: true },
      { q: b.users.USER.email },
    ]) {
      const res = await search(a.users.OWNER.token, params);
      expect(res.status, res.text).toBe(200);
      expect(
        res.body.data.every((u: { orgId: string }) => u.orgId === a.id),
        JSON.stringify(params),
      ).toBe(true);
      expect(
        ids(res).some((id) => theirs.has(id)),
        JSON.stringify(params),
      ).toBe(false);
    }
    expect(await found(a, { q: tag })).toEqual(only(ours));
    expect(await found(a, { q: tag, includeDeleted: true })).toEqual(only(ours));
    expect(await found(a, { q: b.users.USER.email })).toEqual({ ids: [], total: 0 });
    // Six fixtures with example.com addresses each: ours, not theirs.
    expect((await found(a, { q: "example.com", includeDeleted: true })).total).toBe(7);
    expect((await found(b, { q: tag, includeDeleted: true })).total).toBe(3);
  });
});

/** The organization's users by id, live and deleted, from the table. */
async function usersOf(orgId: string): Promise<{ live: string[]; deleted: string[] }> {
  const { results } = await env.DB.prepare("SELECT id, deleted_at IS NOT NULL AS deleted FROM users WHERE org_id = ? ORDER BY id")
    .bind(orgId)
    .all<{ id: string; deleted: number }>();
  return { live: results.filter((r) => !r.deleted).map((r) => r.id), deleted: results.filter((r) => r.deleted).map((r) => r.id) };
}

/** The users whose entries the full-text index holds in the organization's two ranges (migration 0007's layout). */
async function entriesOf(orgId: string): Promise<{ live: string[]; deleted: string[] }> {
  const { results } = await env.DB.prepare(
    `SELECT u.id, (s.rowid >> 32) & 1 AS deleted FROM users_search s
       JOIN user_search_orgs k ON s.rowid >> 33 = k.search_key
       JOIN users u ON u.rowid = s.rowid & 4294967295
     WHERE k.org_id = ? ORDER BY u.id`,
  )
    .bind(orgId)
    .all<{ id: string; deleted: number }>();
  // An entry whose user is gone, or of another organization, would be missing from the join: count them too.
  const { results: counted } = await env.DB.prepare(
    `SELECT count(*) AS n FROM users_search WHERE rowid >> 33 = (SELECT search_key FROM user_search_orgs WHERE org_id = ?)`,
  )
    .bind(orgId)
    .all<{ n: number }>();
  expect(counted[0]?.n).toBe(results.length);
  return { live: results.filter((r) => !r.deleted).map((r) => r.id), deleted: results.filter((r) => r.deleted).map((r) => r.id) };
}
