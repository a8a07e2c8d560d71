import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { callWith, gatedDb } from "../helpers/faults";
import { createOrg, insertUser, type OrgFixture } from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { userPath } from "../helpers/users";

// Conditional requests (RFC 9110 §13): both GETs tag their answer with the row's version, a
// strong ETag, and answer 304 to a client that holds it; both PUTs honour If-Match inside the
// write's own statement, so a client can never overwrite a change it has not seen.

const STRONG = /^"[1-9][0-9]*"$/;

const orgPath = (org: OrgFixture) => `/organization/${org.id}`;
function tagOf(res: ApiResponse): string {
  const tag = res.headers.get("ETag");
  expect(tag, res.text).toMatch(STRONG);
  return tag as string;
}

async function orgName(id: string) {
  return (await env.DB.prepare("SELECT name FROM organizations WHERE id = ?").bind(id).first<{ name: string }>())?.name;
}

describe("ETag and If-None-Match", () => {
  it("tags the organization with a strong ETag that stays while it is unchanged and moves with every update", async () => {
    const org = await createOrg();
    const token = org.users.USER.token;
    const first = await call("GET", orgPath(org), { token });
    expect(first.status).toBe(200);
    const tag = tagOf(first);
    expect(tagOf(await call("GET", orgPath(org), { token }))).toBe(tag);

    const updated = await call("PUT", orgPath(org), { token: org.users.OWNER.token, body: { city: "Lisbon" } });
    expect(updated.status).toBe(200);
    const after = tagOf(updated);
    expect(after).not.toBe(tag);
    // The update's answer carries the tag a read now gives.
    expect(tagOf(await call("GET", orgPath(org), { token }))).toBe(after);
  });

  it("answers 304 without a body while If-None-Match names the current tag, and 200 once it is stale", async () => {
    const org = await createOrg();
    const token = org.users.USER.token;
    const tag = tagOf(await call("GET", orgPath(org), { token }));
    for (const held of [tag, `W/${tag}`, `"999999", ${tag}`, "*"]) {
      const res = await call("GET", orgPath(org), { token, headers: { "If-None-Match": held } });
      expect(res.status, held).toBe(304);
      expect(res.text).toBe("");
      expect(res.headers.get("ETag")).toBe(tag);
    }
    await call("PUT", orgPath(org), { token: org.users.OWNER.token, body: { city: "Porto" } });
    const stale = await call("GET", orgPath(org), { token, headers: { "If-None-Match": tag } });
    expect(stale.status).toBe(200);
    expect(stale.body.data.city).toBe("Porto");
    // A value that is not a list of tags is refused, not read as naming none.
    const malformed = await call("GET", orgPath(org), { token, headers: { "If-None-Match": "not-a-tag" } });
    expectError(malformed, 400, "validation_failed");
    expect(malformed.body.details).toEqual([expect.objectContaining({ path: "if-none-match" })]);
  });

  it("never answers 304 in place of a refusal", async () => {
    const org = await createOrg();
    const res = await call("GET", `/organization/${crypto.randomUUID()}`, {
      token: org.users.USER.token,
      headers: { "If-None-Match": "*" },
    });
    expectError(res, 403, "forbidden");
  });

  it("tags a user, and the tag moves with an update, a deletion and a reactivation", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const target = await insertUser(org.id, ROLE.USER);
    const seen = [tagOf(await call("GET", userPath(target.id), { token }))];
    expect((await call("GET", userPath(target.id), { token, headers: { "If-None-Match": seen[0] as string } })).status).toBe(304);

    const updated = await call("PUT", userPath(target.id), { token, body: { name: "Renamed" } });
    seen.push(tagOf(updated));
    expect(tagOf(await call("GET", userPath(target.id), { token }))).toBe(seen[1]);
    expect((await call("DELETE", userPath(target.id), { token })).status).toBe(200);
    seen.push(tagOf(await call("GET", `${userPath(target.id)}?includeDeleted=true`, { token })));
    expect((await call("POST", `${userPath(target.id)}/activate`, { token })).status).toBe(200);
    seen.push(tagOf(await call("GET", userPath(target.id), { token })));
    expect(new Set(seen).size).toBe(4);
  });

  it("moves the tag when a row is changed outside the API, so no tag handed out before can match it", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const target = await insertUser(org.id, ROLE.USER);
    const orgTag = tagOf(await call("GET", orgPath(org), { token }));
    const userTag = tagOf(await call("GET", userPath(target.id), { token }));
    await env.DB.batch([
      env.DB.prepare("UPDATE organizations SET name = 'Fixed by hand' WHERE id = ?").bind(org.id),
      env.DB.prepare("UPDATE users SET last_name = 'Fixed' WHERE id = ?").bind(target.id),
    ]);
    expect(tagOf(await call("GET", orgPath(org), { token }))).not.toBe(orgTag);
    expect(tagOf(await call("GET", userPath(target.id), { token }))).not.toBe(userTag);
    const refused = await call("PUT", orgPath(org), { token, headers: { "If-Match": orgTag }, body: { name: "Overwrite" } });
    expectError(refused, 412, "precondition_failed", MESSAGES.preconditionFailed);
    expect(await orgName(org.id)).toBe("Fixed by hand");
  });
});

describe("If-Match", () => {
  it("updates the organization while If-Match names its current tag, and refuses a stale one with 412, writing nothing", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const tag = tagOf(await call("GET", orgPath(org), { token }));
    const ok = await call("PUT", orgPath(org), { token, headers: { "If-Match": tag }, body: { name: "First" } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.data.name).toBe("First");

    const stale = await expectUnchanged(() =>
      call("PUT", orgPath(org), { token, headers: { "If-Match": tag }, body: { name: "Second" } }),
    );
    expectError(stale, 412, "precondition_failed");
    expect(await orgName(org.id)).toBe("First");
  });

  it.each([
    ["a weak tag (strong comparison)", (tag: string) => `W/${tag}`],
    ["an unknown tag", () => '"123456"'],
    ["a tag of another server's form", () => '"a1b2c3"'],
  ])("refuses %s with 412", async (_, held) => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const tag = tagOf(await call("GET", userPath(org.users.USER.id), { token }));
    const res = await expectUnchanged(() =>
      call("PUT", userPath(org.users.USER.id), { token, headers: { "If-Match": held(tag) }, body: { name: "Nope" } }),
    );
    expectError(res, 412, "precondition_failed");
  });

  it("refuses a value that is not a list of tags with 400, writing nothing", async () => {
    const org = await createOrg();
    const res = await expectUnchanged(() =>
      call("PUT", userPath(org.users.USER.id), {
        token: org.users.OWNER.token,
        headers: { "If-Match": "garbage", Accept: "application/problem+json" },
        body: { name: "Nope" },
      }),
    );
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: "/if-match", in: "header" })]);
  });

  it("accepts `*` and a list that holds the current tag", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const star = await call("PUT", userPath(org.users.USER.id), { token, headers: { "If-Match": "*" }, body: { name: "Star" } });
    expect(star.status, star.text).toBe(200);
    const tag = tagOf(star);
    const listed = await call("PUT", userPath(org.users.USER.id), {
      token,
      headers: { "If-Match": `"999999", ${tag}` },
      body: { name: "Listed" },
    });
    expect(listed.status, listed.text).toBe(200);
    expect((await userRow(org.users.USER.id))?.first_name).toBe("Listed");
  });

  it("answers what the request would get without it first: 403 for a role too low, 404 for an unknown user", async () => {
    const org = await createOrg();
    const stale = { "If-Match": '"999999"' };
    expectError(
      await call("PUT", orgPath(org), { token: org.users.USER.token, headers: stale, body: { name: "X" } }),
      403,
      "forbidden",
    );
    expectError(
      await call("PUT", userPath(crypto.randomUUID()), { token: org.users.OWNER.token, headers: stale, body: { name: "X" } }),
      404,
      "not_found",
    );
  });

  it("answers the rules on the change before a stale tag: 403 above the caller's rank, 409 for the last owner", async () => {
    const org = await createOrg();
    const stale = { "If-Match": '"999999"' };
    expectError(
      await call("PUT", userPath(org.users.OWNER.id), {
        token: org.users.ADMINISTRATOR.token,
        headers: stale,
        body: { name: "X" },
      }),
      403,
      "forbidden",
    );
    expectError(
      await call("PUT", userPath(org.users.OWNER.id), {
        token: org.users.OWNER.token,
        headers: stale,
        body: { orgRole: ROLE.ADMINISTRATOR },
      }),
      409,
      "last_owner",
    );
  });

  it("lets exactly one of two updates made with the same tag through, and keeps its change", async () => {
    for (let round = 0; round < 5; round++) {
      const org = await createOrg();
      const target = await insertUser(org.id, ROLE.USER);
      const tag = tagOf(await call("GET", userPath(target.id), { token: org.users.OWNER.token }));
      // Both writes wait for each other, so they reach D1 together, after every check.
      const DB = gatedDb(/^update "users"/i, 2);
      const names = ["Katherine", "Dorothy"];
      const responses = await Promise.all(
        names.map((name, i) =>
          callWith({ DB }, "PUT", userPath(target.id), {
            token: (i === 0 ? org.users.OWNER : org.users.ADMINISTRATOR).token,
            headers: { "If-Match": tag },
            body: { name },
          }),
        ),
      );
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses, responses.map((r) => r.text).join(" | ")).toEqual([200, 412]);
      const winner = responses.find((r) => r.status === 200) as ApiResponse;
      expect((await userRow(target.id))?.first_name).toBe(winner.body.data.name);
    }
  });
});

describe("REQUIRE_IF_MATCH", () => {
  const required = { REQUIRE_IF_MATCH: "true" };

  it("refuses an update without If-Match with 428, writing nothing, and lets one with it through", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const missing = await expectUnchanged(() => callWith(required, "PUT", orgPath(org), { token, body: { name: "No tag" } }));
    expectError(missing, 428, "precondition_required", MESSAGES.preconditionRequired);
    const user = await expectUnchanged(() =>
      callWith(required, "PUT", userPath(org.users.USER.id), { token, body: { name: "No tag" } }),
    );
    expectError(user, 428, "precondition_required");

    const tag = tagOf(await call("GET", orgPath(org), { token }));
    const ok = await callWith(required, "PUT", orgPath(org), { token, headers: { "If-Match": tag }, body: { name: "Tagged" } });
    expect(ok.status, ok.text).toBe(200);
    // Reads and other writes are not affected.
    expect((await callWith(required, "GET", orgPath(org), { token })).status).toBe(200);
  });

  it("answers the caller's own refusal before the missing If-Match", async () => {
    const org = await createOrg();
    const res = await callWith(required, "PUT", orgPath(org), { token: org.users.USER.token, body: { name: "No tag" } });
    expectError(res, 403, "forbidden", MESSAGES.modifyOrgRole);
  });
});
