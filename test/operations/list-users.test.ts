import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE, type Role } from "../../src/auth/roles";
import { call, expectError, ORG_USER_FIELDS, type ApiResponse } from "../helpers/api";
import { createOrg, createTwoOrgs, insertUser, type FixtureUser, type OrgFixture } from "../helpers/fixtures";
import { ids } from "../helpers/search";
import { userRow } from "../helpers/snapshot";

type OrgUser = {
  id: string;
  email: string;
  name: string;
  lastName: string;
  orgId: string;
  orgRole: number;
  deletedAt: string | null;
};

function query(params: Record<string, string | number | boolean | undefined>): string {
  const entries = Object.entries(params).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined);
  if (entries.length === 0) return "";
  return `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&")}`;
}

function list(token: string, params: Record<string, string | number | boolean | undefined> = {}): Promise<ApiResponse> {
  return call("GET", `/organization/users${query(params)}`, { token });
}

/** The path and query of the page a `Link: <URL>; rel="next"` header names, or null without one. */
function nextLink(res: ApiResponse): string | null {
  const link = res.headers.get("Link");
  if (link === null) return null;
  const match = /^<(https:\/\/api\.test\/[^>]*)>; rel="next"$/.exec(link);
  expect(match, link).not.toBeNull();
  const url = new URL(match![1]!);
  return `${url.pathname}${url.search}`;
}

/** Follows nextCursor to the end; returns every page (each asserted 200). */
async function walk(
  token: string,
  params: Record<string, string | number | boolean | undefined>,
  between?: (page: number) => Promise<void>,
) {
  const pages: ApiResponse[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const res = await list(token, { ...params, cursor });
    expect(res.status, res.text).toBe(200);
    pages.push(res);
    if (res.body.nextCursor === null) return pages;
    expect(typeof res.body.nextCursor).toBe("string");
    cursor = res.body.nextCursor;
    if (between) await between(pages.length);
  }
  throw new Error("pagination did not end");
}

/** Ids of an organization's users in creation order (created_at, then id), straight from the table. */
async function idsInCreationOrder(orgId: string, options: { includeDeleted?: boolean } = {}): Promise<string[]> {
  const where = options.includeDeleted ? "" : " AND deleted_at IS NULL";
  const { results } = await env.DB.prepare(`SELECT id FROM users WHERE org_id = ?${where} ORDER BY created_at, id`)
    .bind(orgId)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** The fixture users of createOrg() in the order they were inserted. */
function fixtureOrder(org: OrgFixture): FixtureUser[] {
  return [org.users.OWNER, org.users.ADMINISTRATOR, org.users.WORKSPACES, org.users.BILLING, org.users.USER];
}

async function insertMany(
  orgId: string,
  count: number,
  role: Role = ROLE.USER,
  options: { firstName?: string; lastName?: string } = {},
) {
  const users: FixtureUser[] = [];
  for (let i = 0; i < count; i++) users.push(await insertUser(orgId, role, options));
  return users;
}

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

/** The ids and total of a search, asserted 200. */
async function found(org: OrgFixture, params: Params): Promise<{ ids: string[]; total: number }> {
  const res = await search(org.users.OWNER.token, params);
  expect(res.status, res.text).toBe(200);
  return { ids: ids(res), total: res.body.total };
}

/** Every page of a search with `limit`, following nextCursor; each page's total asserted equal. */
async function walkSearch(org: OrgFixture, params: Params, limit: number): Promise<{ ids: string[]; total: number }> {
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

describe("listUsers: GET /organization/users", () => {
  describe("happy path", () => {
    describe("pages", () => {
      it("answers every member of an organization of 110 by default, as Flashback's parameterless client asks, with no Link", async () => {
        const org = await createOrg();
        const extra = await insertMany(org.id, 105);
        const expected = [...fixtureOrder(org), ...extra].map((u) => u.id);

        const res = await list(org.users.WORKSPACES.token);

        expect(res.status, res.text).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(["data", "nextCursor", "success", "total"]);
        expect(res.body.success).toBe(true);
        expect(ids(res)).toEqual(expected);
        expect(res.body.total).toBe(110);
        expect(Object.keys(res.body.data[0]).sort()).toEqual(ORG_USER_FIELDS);
        expect(res.body.nextCursor).toBeNull();
        expect(res.headers.get("Link")).toBeNull();
      });

      it("pages 1,000 users at a time by default, the rest behind nextCursor and an RFC 8288 Link", async () => {
        const org = await createOrg();
        // 1,000 more users in one statement (creation times after the fixtures', in order).
        await env.DB.prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
           INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
             validated, password_hash, auth_method, created_at, updated_at)
           SELECT printf('%08x-0000-4000-8000-%012x', i, abs(random()) % 281474976710656), ?1,
             printf('bulk-%d-%s@example.com', i, ?1), 'Bulk', 'User', 'bulk', 'user', 0, 1, 'x', 'LOCAL',
             strftime('%Y-%m-%dT%H:%M:%fZ', '2030-01-01', printf('+%d seconds', i)),
             strftime('%Y-%m-%dT%H:%M:%fZ', '2030-01-01', printf('+%d seconds', i))
           FROM n`,
        )
          .bind(org.id)
          .run();

        const first = await list(org.users.WORKSPACES.token);
        expect(first.status, first.text).toBe(200);
        expect(first.body.data).toHaveLength(1000);
        expect(first.body.total).toBe(1005);
        const link = first.headers.get("Link");
        expect(link).toBe(`<https://api.test/organization/users?cursor=${first.body.nextCursor}>; rel="next"`);

        const rest = await call("GET", nextLink(first) as string, { token: org.users.WORKSPACES.token });
        expect(rest.status, rest.text).toBe(200);
        expect(rest.body.data).toHaveLength(5);
        expect(new Set([...ids(first), ...ids(rest)]).size).toBe(1005);
        expect(rest.headers.get("Link")).toBeNull();
      });

      it("keeps every other parameter in the Link to the next page, and follows it to the same pages as nextCursor", async () => {
        const org = await createOrg();
        await insertMany(org.id, 4, ROLE.USER, { lastName: "Linked" });
        const params = { limit: 2, q: "linked", role: 0, includeDeleted: true };
        const pages: ApiResponse[] = [await list(org.users.WORKSPACES.token, params)];
        for (let next = nextLink(pages[0]!); next; next = nextLink(pages.at(-1)!)) {
          expect(Object.fromEntries(new URL(next, "https://api.test").searchParams)).toEqual({
            limit: "2",
            q: "linked",
            role: "0",
            includeDeleted: "true",
            cursor: pages.at(-1)!.body.nextCursor,
          });
          pages.push(await call("GET", next, { token: org.users.WORKSPACES.token }));
        }
        expect(pages.map((page) => page.body.data.length)).toEqual([2, 2]);
        expect(pages.at(-1)!.body.nextCursor).toBeNull();
      });

      it("walks every live user exactly once in creation order with limit=3, ending with nextCursor null", async () => {
        const org = await createOrg();
        const extra = [
          ...(await insertMany(org.id, 3)),
          await insertUser(org.id, ROLE.BILLING, { deleted: true }),
          ...(await insertMany(org.id, 4)),
        ];
        const expected = [...fixtureOrder(org), ...extra.filter((u) => !u.deleted)].map((u) => u.id);
        expect(expected).toHaveLength(12);

        const pages = await walk(org.users.OWNER.token, { limit: 3 });

        expect(pages.map((p) => p.body.data.length)).toEqual([3, 3, 3, 3]);
        expect(pages.flatMap(ids)).toEqual(expected);
        expect(pages.flatMap(ids)).toEqual(await idsInCreationOrder(org.id));
        for (const page of pages) expect(page.body.total).toBe(12);
        expect(pages.at(-1)?.body.nextCursor).toBeNull();
      });

      it("ends with a short last page and nextCursor null when the count is not a multiple of the limit", async () => {
        const org = await createOrg();
        await insertMany(org.id, 2);
        const pages = await walk(org.users.OWNER.token, { limit: 3 });
        expect(pages.map((p) => p.body.data.length)).toEqual([3, 3, 1]);
        expect(pages.flatMap(ids)).toEqual(await idsInCreationOrder(org.id));
      });
    });

    describe("filters", () => {
      it("excludes soft-deleted users by default and includes and counts them with includeDeleted=true", async () => {
        const org = await createOrg();
        const gone = await insertUser(org.id, ROLE.WORKSPACES, { deleted: true });
        const live = fixtureOrder(org).map((u) => u.id);
        const all = await idsInCreationOrder(org.id, { includeDeleted: true });
        expect(all).toHaveLength(7);

        for (const params of [{}, { includeDeleted: "false" }]) {
          const res = await list(org.users.OWNER.token, params);
          expect(res.status, res.text).toBe(200);
          expect(ids(res)).toEqual(live);
          expect(res.body.total).toBe(5);
          expect(res.body.data.every((u: OrgUser) => u.deletedAt === null)).toBe(true);
        }

        const withDeleted = await list(org.users.OWNER.token, { includeDeleted: "true" });
        expect(withDeleted.status, withDeleted.text).toBe(200);
        expect(ids(withDeleted)).toEqual(all);
        expect(withDeleted.body.total).toBe(7);
        const deleted = (withDeleted.body.data as OrgUser[]).filter((u) => u.deletedAt !== null).map((u) => u.id);
        expect(deleted.sort()).toEqual([org.deleted.id, gone.id].sort());
      });

      it("filters by role, counting only that role", async () => {
        const org = await createOrg();
        const billing = await insertMany(org.id, 2, ROLE.BILLING);
        await insertUser(org.id, ROLE.BILLING, { deleted: true });

        const res = await list(org.users.OWNER.token, { role: 1 });
        expect(res.status, res.text).toBe(200);
        expect(ids(res)).toEqual([org.users.BILLING.id, ...billing.map((u) => u.id)]);
        expect(res.body.total).toBe(3);
        expect(res.body.data.every((u: OrgUser) => u.orgRole === 1)).toBe(true);

        const owners = await list(org.users.OWNER.token, { role: 255 });
        expect(ids(owners)).toEqual([org.users.OWNER.id]);
        expect(owners.body.total).toBe(1);

        const deletedToo = await list(org.users.OWNER.token, { role: 1, includeDeleted: true });
        expect(deletedToo.body.total).toBe(4);
      });

      it("matches q case-insensitively on email, first name and last name", async () => {
        const org = await createOrg();
        const marker = crypto.randomUUID().slice(0, 8);
        const byEmail = await insertUser(org.id, ROLE.USER, { email: `Zed.${marker}@Example.com` });
        const byFirst = await insertUser(org.id, ROLE.USER, { firstName: `Quentin${marker}` });
        const byLast = await insertUser(org.id, ROLE.BILLING, { lastName: `Van${marker}Dyke` });
        await insertMany(org.id, 3);

        const res = await list(org.users.OWNER.token, { q: marker.toUpperCase() });
        expect(res.status, res.text).toBe(200);
        expect(ids(res)).toEqual([byEmail.id, byFirst.id, byLast.id]);
        expect(res.body.total).toBe(3);

        for (const [q, expected] of [
          [`ZED.${marker}@EXAMPLE.COM`, [byEmail.id]],
          [`quentin${marker}`, [byFirst.id]],
          [`QUENTIN${marker.toUpperCase()}`, [byFirst.id]],
          [`van${marker}dyke`, [byLast.id]],
          [`vAN${marker}D`, [byLast.id]],
        ] as const) {
          const one = await list(org.users.OWNER.token, { q });
          expect(ids(one), q).toEqual(expected);
          expect(one.body.total, q).toBe(1);
        }
      });

      it("counts in total every filter at once (q, role, includeDeleted), not just the page", async () => {
        const org = await createOrg();
        const tag = `tag${crypto.randomUUID().slice(0, 6)}`;
        await insertMany(org.id, 3, ROLE.USER, { lastName: tag });
        await insertMany(org.id, 2, ROLE.WORKSPACES, { lastName: tag });
        await insertUser(org.id, ROLE.USER, { lastName: tag, deleted: true });
        await insertUser(org.id, ROLE.WORKSPACES, { lastName: tag, deleted: true });
        await insertMany(org.id, 2, ROLE.USER);

        const cases: [Record<string, string | number | boolean>, number][] = [
          [{ q: tag }, 5],
          [{ q: tag, includeDeleted: true }, 7],
          [{ q: tag, role: 0 }, 3],
          [{ q: tag, role: 0, includeDeleted: true }, 4],
          [{ q: tag, role: 2, includeDeleted: true }, 3],
          [{ q: tag, role: 255 }, 0],
          // The fixture organization's own USER and soft-deleted user (role 0) count here too.
          [{ role: 0 }, 6],
          [{ role: 0, includeDeleted: true }, 8],
        ];
        for (const [params, total] of cases) {
          const res = await list(org.users.OWNER.token, { ...params, limit: 1 });
          expect(res.status, res.text).toBe(200);
          expect(res.body.total, JSON.stringify(params)).toBe(total);
          expect(res.body.data).toHaveLength(Math.min(1, total));
          const all = await walk(org.users.OWNER.token, { ...params, limit: 2 });
          expect(all.flatMap(ids), JSON.stringify(params)).toHaveLength(total);
        }
      });
    });
  });

  describe("errors", () => {
    it("refuses a cursor that is not one of its own with 400, not 500", async () => {
      const org = await createOrg();
      for (const cursor of ["garbage", "WyJ4Il0", btoa(JSON.stringify(["2026-01-01T00:00:00.000Z", "' OR 1=1 --"]))]) {
        const res = await list(org.users.OWNER.token, { cursor });
        expectError(res, 400, "bad_request");
      }
    });

    it("matches a q of 100 characters (well past 50 bytes) and refuses 101 characters with 400", async () => {
      const org = await createOrg();
      const long = await insertUser(org.id, ROLE.USER, { lastName: "Ø".repeat(100) });
      await insertUser(org.id, ROLE.USER, { lastName: "Ø".repeat(99) });

      const res = await list(org.users.OWNER.token, { q: "ø".repeat(100) });
      expect(res.status, res.text).toBe(200);
      expect(ids(res)).toEqual([long.id]);
      expect(res.body.total).toBe(1);

      const email = await list(org.users.OWNER.token, { q: long.email.toUpperCase() });
      expect(ids(email)).toEqual([long.id]);

      expectError(await list(org.users.OWNER.token, { q: "ø".repeat(101) }), 400, "validation_failed");
    });
  });

  describe("rules", () => {
    describe("pages", () => {
      it("orders users with the same creation time by id and pages through them without skipping or repeating", async () => {
        const org = await createOrg();
        const same = await insertMany(org.id, 7);
        const createdAt = "2026-06-01T12:00:00.000Z";
        for (const u of same) await env.DB.prepare("UPDATE users SET created_at = ? WHERE id = ?").bind(createdAt, u.id).run();
        const expected = [...fixtureOrder(org).map((u) => u.id), ...same.map((u) => u.id).sort()];

        const pages = await walk(org.users.OWNER.token, { limit: 2 });

        expect(pages.flatMap(ids)).toEqual(expected);
      });

      it("stays exact while users are added between pages: new users come at the end, none skipped or repeated", async () => {
        const org = await createOrg();
        const initial = [...fixtureOrder(org), ...(await insertMany(org.id, 6))].map((u) => u.id);
        const added: string[] = [];

        const pages = await walk(org.users.OWNER.token, { limit: 3 }, async (page) => {
          if (page <= 3) {
            added.push((await insertUser(org.id, ROLE.USER)).id);
          } else if (page === 4) {
            // One through the API as well (real clock, so it sorts after the fixture users).
            const res = await call("POST", "/organization/users", {
              token: org.users.OWNER.token,
              body: {
                email: `late-${crypto.randomUUID()}@example.com`,
                password: "Late-joiner-1",
                firstName: "Late",
                lastName: "Joiner",
              },
            });
            expect(res.status, res.text).toBe(201);
            added.push(res.body.data.id);
          }
        });

        const seen = pages.flatMap(ids);
        expect(added).toHaveLength(4);
        expect(seen).toEqual([...initial, ...added]);
        expect(new Set(seen).size).toBe(seen.length);
        expect(pages.at(-1)?.body.total).toBe(initial.length + added.length);
      });

      it("gives valid results (never a 500) for a cursor taken from another filter", async () => {
        const org = await createOrg();
        await insertMany(org.id, 2, ROLE.BILLING);
        await insertUser(org.id, ROLE.USER, { deleted: true });
        await insertMany(org.id, 3, ROLE.USER, { lastName: "Hopper" });
        const everyone = await idsInCreationOrder(org.id, { includeDeleted: true });

        // A cursor that stops on a BILLING user, and one that stops on a soft-deleted user.
        const byRole = await list(org.users.OWNER.token, { role: 1, limit: 2 });
        const withDeleted = await list(org.users.OWNER.token, { includeDeleted: true, limit: 9 });
        expect(withDeleted.body.data.at(-1).deletedAt).not.toBeNull();
        for (const page of [byRole, withDeleted]) {
          const cursor = page.body.nextCursor as string;
          const after = everyone.indexOf(page.body.data.at(-1).id);
          for (const params of [{}, { q: "hopper" }, { role: 0 }, { includeDeleted: true }, { role: 255 }]) {
            const full = await list(org.users.OWNER.token, { ...params, limit: 1000 });
            const expected = ids(full).filter((id) => everyone.indexOf(id) > after);
            const res = await list(org.users.OWNER.token, { ...params, cursor });
            expect(res.status, res.text).toBe(200);
            expect(ids(res), JSON.stringify(params)).toEqual(expected);
            expect(res.body.total).toBe(full.body.total);
            expect(res.body.nextCursor).toBeNull();
          }
        }
      });
    });

    describe("q: substrings of three characters or more", () => {
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
    });

    describe("q: one or two characters match as a prefix", () => {
      it("matches a prefix of the email, the first name or the last name, and nothing in the middle", async () => {
        const org = await createOrg();
        const byEmail = await insertUser(org.id, ROLE.USER, { email: `qx-${crypto.randomUUID()}@example.com` });
        const byFirst = await insertUser(org.id, ROLE.USER, { firstName: "Qxavier" });
        const byLast = await insertUser(org.id, ROLE.USER, { lastName: "QXander" });
        // "qx" only inside: not a prefix of any of them.
        await insertUser(org.id, ROLE.USER, {
          email: `aqx-${crypto.randomUUID()}@example.com`,
          firstName: "Aqx",
          lastName: "Bqx",
        });

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

    describe("q: case and non-ASCII", () => {
      it("matches non-ASCII names case-insensitively (Émile by 'émile' and 'ÉMILE')", async () => {
        const org = await createOrg();
        // Created through the API, so the stored search columns are the application's own.
        const res = await call("POST", "/organization/users", {
          token: org.users.OWNER.token,
          body: {
            email: `writer-${crypto.randomUUID()}@example.com`,
            password: "Zola-Germinal-1885",
            firstName: "Émile",
            lastName: "ÖSTERGÅRD",
            sendInvite: false,
          },
        });
        expect(res.status, res.text).toBe(201);
        const id = res.body.data.id;
        const other = await insertUser(org.id, ROLE.USER, { firstName: "Emil", lastName: "Ostergard" });

        for (const q of ["émile", "ÉMILE", "Émile", "ÉMI", "östergård", "ÖSTERGÅRD", "Östergård", "gÅrd"]) {
          const found = await list(org.users.OWNER.token, { q });
          expect(found.status, found.text).toBe(200);
          expect(ids(found), q).toEqual([id]);
          expect(found.body.total, q).toBe(1);
          expect(found.body.data[0]).toMatchObject({ name: "Émile", lastName: "ÖSTERGÅRD" });
        }
        const plain = await list(org.users.OWNER.token, { q: "EMIL" });
        expect(ids(plain)).toEqual([other.id]);
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

    describe("q: nothing in q is syntax", () => {
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

      it("treats % and _ in q literally: a prefix when one or two characters, a substring from three", async () => {
        const org = await createOrg();
        const sale = await insertUser(org.id, ROLE.USER, { firstName: "50%_off" });
        const percent = await insertUser(org.id, ROLE.USER, { lastName: "100%" });
        const leading = await insertUser(org.id, ROLE.USER, { firstName: "%_lead" });
        await insertUser(org.id, ROLE.USER, { firstName: "50 off", lastName: "Fifty" });
        await insertUser(org.id, ROLE.USER, { firstName: "50xoff" });

        const both = await list(org.users.OWNER.token, { q: "%_" });
        expect(ids(both)).toEqual([leading.id]);
        expect(both.body.total).toBe(1);

        const pct = await list(org.users.OWNER.token, { q: "%" });
        expect(ids(pct)).toEqual([leading.id]);
        expect(pct.body.total).toBe(1);

        const inside = await list(org.users.OWNER.token, { q: "0%_" });
        expect(ids(inside)).toEqual([sale.id]);
        expect(inside.body.total).toBe(1);

        const ending = await list(org.users.OWNER.token, { q: "00%" });
        expect(ids(ending)).toEqual([percent.id]);

        const pattern = await list(org.users.OWNER.token, { q: "50_off" });
        expect(ids(pattern)).toEqual([]);
        expect(pattern.body.total).toBe(0);
        expect(pattern.body.nextCursor).toBeNull();
      });

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

    describe("q with the other filters", () => {
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
          expect(await walkSearch(org, { q }, 2), q).toEqual(expected((u) => !u.deleted));
          expect(await walkSearch(org, { q, includeDeleted: true }, 2), q).toEqual(expected(() => true));
          expect(await walkSearch(org, { q, role: ROLE.WORKSPACES }, 1), q).toEqual(
            expected((u) => u.role === ROLE.WORKSPACES && !u.deleted),
          );
          expect(await walkSearch(org, { q, role: ROLE.USER, includeDeleted: true }, 2), q).toEqual(
            expected((u) => u.role === ROLE.USER),
          );
          expect(await walkSearch(org, { q, role: ROLE.OWNER }, 2), q).toEqual({ ids: [], total: 0 });
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
        await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?")
          .bind(new Date().toISOString(), a.users.USER.id)
          .run();
        // A user moved to another organization (no route does it) is found there, and no longer here.
        await env.DB.prepare("UPDATE users SET org_id = ? WHERE id = ?").bind(b.id, moved.id).run();
        expect(await found(a, { q: "mover" })).toEqual({ ids: [], total: 0 });
        expect(await found(b, { q: "mover" })).toEqual(only(moved));
        for (const org of [a, b]) expect(await entriesOf(org.id)).toEqual(await usersOf(org.id));
      });
    });

    describe("one organization only", () => {
      it("lists only the caller's organization, whatever the filters", async () => {
        const { a, b } = await createTwoOrgs();
        const theirs = new Set([...fixtureOrder(b).map((u) => u.id), b.deleted.id]);

        for (const params of [{}, { includeDeleted: true }, { role: 0 }, { q: "example.com" }, { q: b.users.USER.email }]) {
          const res = await list(a.users.OWNER.token, params);
          expect(res.status, res.text).toBe(200);
          expect(
            res.body.data.every((u: OrgUser) => u.orgId === a.id),
            JSON.stringify(params),
          ).toBe(true);
          expect(ids(res).some((id) => theirs.has(id))).toBe(false);
        }
        const everything = await list(a.users.OWNER.token, { includeDeleted: true });
        expect(everything.body.total).toBe(6);
        const foreignEmail = await list(a.users.OWNER.token, { q: b.users.USER.email });
        expect(foreignEmail.body.total).toBe(0);
      });

      it("reveals nothing of organization A when A's cursor is replayed by a member of B", async () => {
        const { a, b } = await createTwoOrgs();
        const page = await list(a.users.OWNER.token, { limit: 2 });
        const cursor = page.body.nextCursor as string;
        expect(cursor).toEqual(expect.any(String));

        const replayed = await list(b.users.OWNER.token, { limit: 100, cursor });
        expect(replayed.status, replayed.text).toBe(200);
        expect(replayed.body.data.every((u: OrgUser) => u.orgId === b.id)).toBe(true);
        const ofA = new Set([...fixtureOrder(a).map((u) => u.id), a.deleted.id]);
        expect(ids(replayed).some((id) => ofA.has(id))).toBe(false);
        // total is B's own count, whatever the cursor.
        expect(replayed.body.total).toBe(5);
      });
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

    describe("text round-trips exactly through create, GET and list", () => {
      const samples = [
        { firstName: "Robert'); DROP TABLE users;--", lastName: "名前" },
        { firstName: "😀 emoji", lastName: "שלום עולם" },
        { firstName: "\u202Bمرحبا\u202C", lastName: 'O\'Brien "quoted" \\ back%slash_' },
      ];

      it.each(samples)("stores and returns $firstName / $lastName unchanged", async ({ firstName, lastName }) => {
        const org = await createOrg();
        const email = `o'brien-${crypto.randomUUID()}@example.com`;
        const created = await call("POST", "/organization/users", {
          token: org.users.OWNER.token,
          body: { email, password: "Round-trip-42", firstName, lastName, sendInvite: false },
        });
        expect(created.status, created.text).toBe(201);
        const user = created.body.data;
        expect(user).toMatchObject({ email, name: firstName, lastName });
        expect(await userRow(user.id)).toMatchObject({ email, first_name: firstName, last_name: lastName });

        const fetched = await call("GET", `/organization/users/${user.id}`, { token: org.users.OWNER.token });
        expect(fetched.status, fetched.text).toBe(200);
        expect(fetched.body).toEqual(user);

        for (const q of [firstName, lastName, email]) {
          const found = await list(org.users.OWNER.token, { q });
          expect(found.status, found.text).toBe(200);
          expect(found.body.data, q).toEqual([user]);
          expect(found.body.total).toBe(1);
        }
        const all = await list(org.users.OWNER.token);
        expect(all.body.total).toBe(6);
        expect(all.body.data.at(-1)).toEqual(user);
      });
    });
  });
});
