import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { allPrepared, openSession, preparedBy } from "../../src/db/client";
import { organizations } from "../../src/db/schema";
import { eq, sql } from "drizzle-orm";
import { call } from "../helpers/api";
import { hookedD1 } from "../helpers/d1";
import { callWith } from "../helpers/faults";
import { createOrg, FIXTURE_PASSWORD, insertUser } from "../helpers/fixtures";

// D1's Sessions API: every request runs in its own session, started at the client's bookmark (or
// the nearest replica, or the primary when configured), and answers with the session's latest
// bookmark. Locally there are no replicas, so these check the plumbing, not replication lag.

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** The real binding, recording where each session it opens starts. */
function sessionsRecorded(): { DB: D1Database; starts: (string | undefined)[] } {
  const starts: (string | undefined)[] = [];
  return { DB: hookedD1({ session: (start) => starts.push(start) }), starts };
}

describe("D1 sessions", () => {
  it("answers every request that used the database with its session's bookmark, which a write advances", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const read = await call("GET", `/organization/${org.id}`, { token });
    expect(read.headers.get("x-d1-bookmark")).toMatch(BOOKMARK);
    const written = await call("PUT", `/organization/${org.id}`, { token, body: { city: "Oslo" } });
    const after = written.headers.get("x-d1-bookmark") as string;
    expect(after).toMatch(BOOKMARK);
    expect(after > (read.headers.get("x-d1-bookmark") as string)).toBe(true);
    // Refusals that read the database carry it too.
    expect((await call("GET", `/organization/users/${crypto.randomUUID()}`, { token })).headers.get("x-d1-bookmark")).toMatch(
      BOOKMARK,
    );
  });

  it("starts a request at the bookmark its client sent, and a client that sends its write's bookmark reads that write", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const target = await insertUser(org.id, ROLE.USER);
    const written = await call("PUT", `/organization/users/${target.id}`, { token, body: { name: "Bookmarked" } });
    const bookmark = written.headers.get("x-d1-bookmark") as string;

    const { DB, starts } = sessionsRecorded();
    const read = await callWith({ DB }, "GET", `/organization/users/${target.id}`, {
      token,
      headers: { "x-d1-bookmark": bookmark },
    });
    expect(starts).toEqual([bookmark]);
    expect(read.body.name).toBe("Bookmarked");
    expect((read.headers.get("x-d1-bookmark") as string) >= bookmark).toBe(true);
  });

  it.each([
    ["no bookmark", undefined],
    ["a malformed one", "garbage"],
    ["one of another form", "00000000-0000000b-00000000-zz"],
    ["an upper-case one", "00000000-0000000B-00000000-00000000000000000000000000000000"],
  ])("starts at the nearest replica with %s, and answers as usual", async (_, sent) => {
    const org = await createOrg();
    const { DB, starts } = sessionsRecorded();
    const res = await callWith({ DB }, "GET", `/organization/${org.id}`, {
      token: org.users.USER.token,
      headers: sent === undefined ? {} : { "x-d1-bookmark": sent },
    });
    expect(res.status, res.text).toBe(200);
    expect(starts).toEqual(["first-unconstrained"]);
    expect(res.headers.get("x-d1-bookmark")).toMatch(BOOKMARK);
  });

  it("starts every request at the primary when the deployment sets D1_FIRST_QUERY=first-primary, bookmark or not", async () => {
    const org = await createOrg();
    const { DB, starts } = sessionsRecorded();
    const bookmark = (await call("GET", `/organization/${org.id}`, { token: org.users.USER.token })).headers.get("x-d1-bookmark");
    for (const headers of [{}, { "x-d1-bookmark": bookmark as string }] as Record<string, string>[]) {
      const res = await callWith({ DB, D1_FIRST_QUERY: "first-primary" }, "GET", `/organization/${org.id}`, {
        token: org.users.USER.token,
        headers,
      });
      expect(res.status).toBe(200);
    }
    expect(starts).toEqual(["first-primary", "first-primary"]);
  });

  it("starts sign-in and refresh at the primary, whatever bookmark they carry: they check a credential before writing", async () => {
    const org = await createOrg();
    const { DB, starts } = sessionsRecorded();
    const bookmark = (await call("GET", `/organization/${org.id}`, { token: org.users.USER.token })).headers.get("x-d1-bookmark");
    const headers = { "x-d1-bookmark": bookmark as string };
    await callWith({ DB }, "POST", "/user/login", { body: { email: org.users.USER.email, password: FIXTURE_PASSWORD }, headers });
    await callWith({ DB }, "POST", "/user/refresh", { body: { refreshToken: "x".repeat(43) }, headers });
    expect(starts).toEqual(["first-primary", "first-primary"]);
  });

  it("prepares a statement once per binding, whichever request's session runs it", async () => {
    let builds = 0;
    const byId = preparedBy((db) => {
      builds++;
      return db
        .select({ id: organizations.id })
        .from(organizations)
        .where(eq(organizations.id, sql.placeholder("id")))
        .prepare();
    });
    const org = await createOrg();
    const first = openSession(env.DB, "first-unconstrained");
    const second = openSession(env.DB, "first-unconstrained");
    const statement = byId(first.db, "by-id");
    expect(byId(second.db, "by-id")).toBe(statement);
    expect(builds).toBe(1);
    // Run in each request's own session: its bookmark moves, the other's does not.
    expect(await allPrepared(second.db, statement, { id: org.id })).toEqual([{ id: org.id }]);
    expect(second.session.getBookmark()).toMatch(BOOKMARK);
    expect(first.session.getBookmark()).toBeNull();
  });
});
