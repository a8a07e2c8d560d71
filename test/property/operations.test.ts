// Property-based tests of the eight operations (fast-check): inputs generated from the request
// schemas (openapi.json, src/schemas). Valid ones are accepted with 2xx and stored exactly as
// answered; invalid ones (every kind of violation) get 4xx and write nothing; nothing gets a 5xx.
// Every response is also checked against openapi.json by test/helpers/api.ts.
//
// Replay a failure with the seed (and path) it printed:
//   FC_SEED=<seed> FC_PATH=<path> npx vitest run test/property/operations.test.ts -t "<test name>"

import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ROLE, ROLE_VALUES, type Role, type RoleName } from "../../src/auth/roles";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { createTwoOrgs, insertUser, tokenFor, type FixtureUser, type OrgFixture } from "../helpers/fixtures";
import {
  checkProperty,
  codePoints,
  invalidText,
  lengthIn,
  malformedId,
  notOfType,
  printableChar,
  randomCase,
  reachesRoute,
  segment,
  trimmedText,
  unknownId,
  validText,
} from "../helpers/property";
import { matchesQ } from "../helpers/search";
import { expectUnchanged, userRow } from "../helpers/snapshot";

const TIMEOUT = 120_000;
const MANAGERS = ["OWNER", "ADMINISTRATOR", "WORKSPACES"] as const satisfies readonly RoleName[];
const ALL_ROLES = ["OWNER", "ADMINISTRATOR", "WORKSPACES", "BILLING", "USER"] as const satisfies readonly RoleName[];

type Json = Record<string, unknown>;

function expectNo5xx(res: ApiResponse) {
  expect(res.status, res.text).toBeGreaterThanOrEqual(200);
  expect(res.status, res.text).toBeLessThan(500);
}

/** A rejected request: 4xx in the error envelope, with the given status when known. */
function expectRejected(res: ApiResponse, status?: number) {
  expectNo5xx(res);
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  if (status !== undefined) expect(res.status, res.text).toBe(status);
  expectError(res, res.status, res.body?.code);
}

async function orgRow(id: string) {
  return env.DB.prepare("SELECT * FROM organizations WHERE id = ?").bind(id).first<Record<string, unknown>>();
}

/** Roles a caller may give: at or below their own. */
const rolesUpTo = (role: Role) => ROLE_VALUES.filter((r) => r <= role);

/** Server-owned or misspelt fields no body may carry (plus any name outside the schema). */
function foreignKey(allowed: readonly string[]): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.constantFrom(
        "id",
        "orgId",
        "org_id",
        "deletedAt",
        "deleted_at",
        "validated",
        "domain",
        "createdAt",
        "updatedAt",
        "passwordHash",
        "password_hash",
        "reposDisabled",
        "isBusiness",
        "first_name",
        "role",
        "email",
        "password",
        "name",
        "firstName",
        "__proto__",
        "constructor",
        "Name",
        "NAME",
        " name",
      ),
      fc.string({ minLength: 1, maxLength: 12 }),
    )
    .filter((key) => !allowed.includes(key));
}

/** A body that is not a JSON object, or not JSON at all. */
const notAnObject: fc.Arbitrary<string> = fc.oneof(
  fc
    .oneof(
      fc.array(fc.jsonValue(), { maxLength: 3 }),
      fc.string(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 30 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  fc.tuple(fc.string({ maxLength: 10 }), fc.nat({ max: 20 })).map(([s, n]) => `{"name":${JSON.stringify(s)}`.slice(0, n + 1)),
  fc.constantFrom("{", '{"name":', '{"name":"x"', "{'name':'x'}", '{"name":"x",}', "\u0000", "", " "),
);

/** Sends a raw JSON text (already serialised) as the body. */
function sendRaw(method: string, path: string, token: string, text: string) {
  return call(method, path, { token, body: text, headers: { "Content-Type": "application/json" } });
}

// ------------------------------------------------------------------------------------------------
// GET /organization/{orgId}

describe("property: GET /organization/{orgId}", () => {
  it(
    "answers 200 with the stored organization for any member, its id in any letter case",
    async () => {
      const { a, b } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom(a, b).chain((org) => fc.tuple(fc.constant(org), randomCase(org.id))),
          fc.constantFrom(...ALL_ROLES),
          async ([org, id], role) => {
            const res = await call("GET", `/organization/${id}`, { token: org.users[role].token });
            expect(res.status, res.text).toBe(200);
            const row = await orgRow(org.id);
            expect(res.body.data).toMatchObject({ id: org.id, name: row?.name, domain: row?.domain, city: row?.city });
          },
        ),
        30,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses malformed ids with 400, and answers 403 for any other well-formed id; never a 5xx",
    async () => {
      const { a, b } = await createTwoOrgs();
      const token = a.users.USER.token;
      const invalid = malformedId(a.id).filter((s) => reachesRoute(s) && s !== "users");
      await checkProperty(
        fc.asyncProperty(
          fc.oneof(
            invalid.map((id) => ({ id, ok: false })),
            fc.oneof(unknownId, fc.constant(b.id)).map((id) => ({ id, ok: true })),
          ),
          async ({ id, ok }) => {
            const res = await call("GET", `/organization/${segment(id)}`, { token });
            if (ok) expectError(res, 403, "forbidden", "Access denied: you can only view your own organization");
            else expectError(res, 400, "bad_request");
          },
        ),
        150,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses unknown query parameters with 400 validation_failed naming them",
    async () => {
      const { a } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(unknownParam([]), async ([name, value]) => {
          const query = new URLSearchParams([[name, value]]);
          const res = await call("GET", `/organization/${a.id}?${query}`, { token: a.users.USER.token });
          expectError(res, 400, "validation_failed");
          expect(res.body.details?.map((d: { path: string }) => d.path)).toContain(name);
        }),
        40,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// PUT /organization/{orgId}

type Sent<T> = { sent: T; stored: T };

const clearable: fc.Arbitrary<Sent<string | null>> = fc.oneof(
  fc.constant({ sent: null, stored: null }),
  validText(0, 200).map(({ sent, stored }) => ({ sent, stored: stored === "" ? null : stored })),
);

// RFC 3986 characters (format: uri): unreserved and sub-delims, or a percent-encoded octet.
const PCT = fc
  .tuple(fc.constantFrom(..."0123456789abcdefABCDEF"), fc.constantFrom(..."0123456789abcdefABCDEF"))
  .map(([x, y]) => `%${x}${y}`);
const uriChars = (extra: string) =>
  fc.oneof({ arbitrary: fc.constantFrom(...`abcxyzABCXYZ019-._~!$&'()*+,;=${extra}`), weight: 5 }, { arbitrary: PCT, weight: 1 });
const hostPart = fc.array(uriChars(""), { minLength: 1, maxLength: 30 }).map((c) => c.join(""));
const pathPart = fc
  .array(
    fc.array(uriChars(":@"), { maxLength: 12 }).map((c) => `/${c.join("")}`),
    { maxLength: 4 },
  )
  .map((p) => p.join(""));
const tailPart = (lead: string) =>
  fc.option(
    fc.array(uriChars(":@/?"), { maxLength: 15 }).map((c) => lead + c.join("")),
    { nil: "" },
  );

/** http(s) URIs of up to 200 characters (the scheme's case is free), sometimes exactly 200, maybe padded with blanks. */
const website: fc.Arbitrary<Sent<string | null>> = fc.oneof(
  { arbitrary: fc.constant({ sent: null, stored: null }), weight: 1 },
  { arbitrary: fc.constantFrom({ sent: "", stored: null }, { sent: "  ", stored: null }), weight: 1 },
  {
    arbitrary: fc
      .record({
        scheme: fc.constantFrom("http://", "https://", "HTTPS://", "Http://"),
        userinfo: fc.option(
          fc.array(uriChars(":"), { maxLength: 8 }).map((c) => `${c.join("")}@`),
          { nil: "" },
        ),
        host: hostPart,
        port: fc.option(
          fc.nat({ max: 65535 }).map((n) => `:${n}`),
          { nil: "" },
        ),
        path: pathPart,
        query: tailPart("?"),
        fragment: tailPart("#"),
        fill: fc.boolean(),
        pad: fc.constantFrom("", " ", "\t"),
      })
      .map((u) => {
        let host = u.host;
        const length = () => (u.scheme + u.userinfo + host + u.port + u.path + u.query + u.fragment).length;
        if (u.fill && length() < 200) host = "a".repeat(200 - length()) + host;
        return { ...u, url: u.scheme + u.userinfo + host + u.port + u.path + u.query + u.fragment };
      })
      .filter((u) => u.url.length <= 200)
      .map((u) => ({ sent: u.pad + u.url + u.pad, stored: u.url })),
    weight: 4,
  },
);

const ORG_TEXT = ["address1", "address2", "city", "zipcode", "phone", "state", "country"] as const;
const ORG_FIELDS = ["name", ...ORG_TEXT, "website", "is_business", "mfaEnforced"] as const;

const orgUpdate: fc.Arbitrary<{ body: Json; expected: Json }> = fc
  .record(
    {
      name: validText(1, 200),
      ...Object.fromEntries(ORG_TEXT.map((field) => [field, clearable])),
      website,
      is_business: fc.boolean().map((v) => ({ sent: v, stored: v })),
      mfaEnforced: fc.boolean().map((v) => ({ sent: v, stored: v })),
    } as Record<(typeof ORG_FIELDS)[number], fc.Arbitrary<Sent<unknown>>>,
    { requiredKeys: [] },
  )
  .filter((fields) => Object.keys(fields).length > 0)
  .map((fields) => ({
    body: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.sent])),
    expected: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.stored])),
  }));

/** One field of the organization update with a value it must refuse. */
const badOrgField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constant("name"), fc.oneof(invalidText(1, 200), notOfType("string"))),
  fc.tuple(fc.constantFrom(...ORG_TEXT), fc.oneof(invalidText(0, 200), notOfType("nullable-string"))),
  fc.tuple(
    fc.constant("website"),
    fc.oneof(
      invalidText(0, 200),
      notOfType("nullable-string"),
      fc.constantFrom(
        "javascript:alert(1)",
        "ftp://x.example",
        "http://",
        "https:///path",
        "//x.example",
        "www.x.example",
        "http:/x",
        "mailto:a@b.c",
      ),
      // Not a URI: characters RFC 3986 does not allow unencoded, a bad escape, a port that is not a number.
      fc
        .tuple(
          website,
          fc.constantFrom("ä", "\u{1F600}", " ", "<", ">", '"', "{", "}", "|", "\\", "^", "`", "%g0", "%4z", "[", "]"),
        )
        .filter(([w]) => typeof w.stored === "string")
        .chain(([w, bad]) => fc.nat({ max: (w.stored as string).length - 1 }).map((at) => ({ url: w.stored as string, bad, at })))
        .map(({ url, bad, at }) => {
          const i = Math.max(at, url.indexOf("//") + 2);
          return url.slice(0, i) + bad + url.slice(i);
        }),
      fc.constantFrom(
        "http://a:b",
        "http://a:80x/",
        "https://ä.example",
        "http://a b.example",
        "https://x.example/a b",
        "http://a.example/%",
        "http://a.example/%4",
      ),
      // 201 characters.
      fc.constant(`https://${"a".repeat(193)}`),
    ),
  ),
  fc.tuple(fc.constantFrom("is_business", "mfaEnforced"), notOfType("boolean")),
);

describe("property: PUT /organization/{orgId}", () => {
  it(
    "accepts any valid partial update from an ADMINISTRATOR or OWNER: 200, stored trimmed exactly as answered, the other organization untouched",
    async () => {
      const { a, b } = await createTwoOrgs();
      const other = await orgRow(b.id);
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom("OWNER", "ADMINISTRATOR") satisfies fc.Arbitrary<RoleName>,
          orgUpdate,
          async (role, { body, expected }) => {
            const before = await orgRow(a.id);
            const res = await call("PUT", `/organization/${a.id}`, { token: a.users[role].token, body });
            expect(res.status, res.text).toBe(200);
            expect(res.body.message).toBe("Organization updated successfully");
            expect(res.body.data).toMatchObject(expected);
            const after = await orgRow(a.id);
            const columns: Record<string, string> = { is_business: "is_business", mfaEnforced: "mfa_enforced" };
            for (const field of ORG_FIELDS) {
              const column = columns[field] ?? field;
              const value = field in expected ? expected[field] : before?.[column];
              expect(after?.[column], field).toEqual(typeof value === "boolean" ? Number(value) : value);
              expect(res.body.data[field], field).toEqual(typeof value === "number" ? value === 1 : value);
            }
            expect(after?.domain).toBe(before?.domain);
            expect(after?.deleted_at).toBe(before?.deleted_at);
          },
        ),
        40,
      );
      expect(await orgRow(b.id)).toEqual(other);
    },
    TIMEOUT,
  );

  it(
    "refuses every kind of invalid body with 400 and changes nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const path = `/organization/${a.id}`;
      const token = a.users.OWNER.token;
      const invalid = fc.oneof(
        // One bad field beside valid ones.
        fc.tuple(orgUpdate, badOrgField).map(([{ body }, [field, value]]) => JSON.stringify({ ...body, [field]: value })),
        // A field the client does not own, or does not exist.
        fc.tuple(orgUpdate, foreignKey(ORG_FIELDS), fc.jsonValue()).map(([{ body }, key, value]) => {
          const text = JSON.stringify(body);
          return `{${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"},${text.slice(1)}`;
        }),
        notAnObject,
        fc.constant("{}"),
      );
      await checkProperty(
        fc.asyncProperty(invalid, async (text) => {
          const res = await expectUnchanged(() => sendRaw("PUT", path, token, text));
          expectRejected(res, 400);
        }),
        150,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// GET /organization/users

const LIST_PARAMS = ["limit", "cursor", "q", "role", "includeDeleted"];

/** A query parameter the operation does not define, with any value. */
function unknownParam(known: readonly string[]): fc.Arbitrary<[string, string]> {
  return fc.tuple(
    fc
      .oneof(
        fc.constantFrom("offset", "orgId", "page", "sort", "expand", "Limit", "LIMIT", "q ", "include_deleted", "__proto__"),
        fc.string({ minLength: 1, maxLength: 10 }),
      )
      .filter((name) => !known.includes(name)),
    fc.string({ maxLength: 10 }),
  );
}

const single =
  (name: string) =>
  (value: string): [string, string][] => [[name, value]];

type ListQuery = { limit?: number; q?: string; role?: Role; includeDeleted?: boolean };

async function orgUsers(orgId: string) {
  const { results } = await env.DB.prepare(
    "SELECT id, email, first_name, last_name, org_role, deleted_at, created_at FROM users WHERE org_id = ? ORDER BY created_at, id",
  )
    .bind(orgId)
    .all<{
      id: string;
      email: string;
      first_name: string;
      last_name: string;
      org_role: number;
      deleted_at: string | null;
      created_at: string;
    }>();
  return results;
}

describe("property: GET /organization/users", () => {
  it(
    "for any valid query lists exactly the matching users of the caller's organization, page by page, with the true total",
    async () => {
      const { a, b } = await createTwoOrgs();
      // Names that make filtering interesting, in both organizations.
      const names = [
        ["Émile", "Zola"],
        ["100%", "Pure"],
        ["a_b", "O'Brien"],
        ["\u{1F600} Smile", "Ünïcödé"],
        ["İsmail", "ǅemal"],
        ["e\u0301lodie", "Straße"],
      ];
      for (const org of [a, b]) {
        for (const [i, [first, last]] of names.entries()) {
          await insertUser(org.id, ROLE_VALUES[i % 5]!, { firstName: first, lastName: last, deleted: i % 3 === 2 });
        }
      }
      const haystack = (await orgUsers(a.id)).flatMap((u) => [u.email, u.first_name, u.last_name]);
      const needle = fc.oneof(
        // A piece of a stored value, in any case.
        fc
          .tuple(fc.constantFrom(...haystack), fc.nat(), fc.nat())
          .map(([s, i, n]) => {
            const chars = [...s];
            const start = i % chars.length;
            return chars.slice(start, start + 1 + (n % 6)).join("");
          })
          .chain(randomCase),
        fc.string({ unit: printableChar, maxLength: 100 }),
        fc.constantFrom("%", "_", "'", "%%", "a%", "\\", "@", "example", "ADA", "\u{1F600}".repeat(100)),
      );
      const query: fc.Arbitrary<ListQuery> = fc.record(
        {
          limit: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constantFrom(1, 1000)),
          q: needle,
          role: fc.constantFrom(...ROLE_VALUES),
          includeDeleted: fc.boolean(),
        },
        { requiredKeys: [] },
      );
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...MANAGERS), query, async (role, q) => {
          const rows = await orgUsers(a.id);
          const folded = q.q?.toLowerCase();
          const expected = rows.filter(
            (u) =>
              (q.includeDeleted || u.deleted_at === null) &&
              (q.role === undefined || u.org_role === q.role) &&
              (!folded || matchesQ(folded, [u.email, u.first_name.toLowerCase(), u.last_name.toLowerCase()])),
          );
          const seen: string[] = [];
          let cursor: string | null = null;
          for (let page = 0; page < 40; page++) {
            const params = new URLSearchParams();
            if (q.limit !== undefined) params.set("limit", String(q.limit));
            if (q.q !== undefined) params.set("q", q.q);
            if (q.role !== undefined) params.set("role", String(q.role));
            if (q.includeDeleted !== undefined) params.set("includeDeleted", String(q.includeDeleted));
            if (cursor !== null) params.set("cursor", cursor);
            const res = await call("GET", `/organization/users?${params}`, { token: a.users[role].token });
            expect(res.status, res.text).toBe(200);
            expect(res.body.total).toBe(expected.length);
            expect(res.body.data.length).toBeLessThanOrEqual(q.limit ?? 100);
            for (const user of res.body.data) expect(user.orgId).toBe(a.id);
            seen.push(...res.body.data.map((u: { id: string }) => u.id));
            cursor = res.body.nextCursor;
            if (cursor === null) break;
          }
          expect(cursor).toBeNull();
          expect(seen).toEqual(expected.map((u) => u.id));
        }),
        60,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses every invalid query parameter with 400 naming it; never a 5xx",
    async () => {
      const { a } = await createTwoOrgs();
      const token = a.users.WORKSPACES.token;
      const invalid: fc.Arbitrary<[string, string][]> = fc.oneof(
        fc
          .oneof(
            fc.integer({ min: -5, max: 0 }).map(String),
            fc.integer({ min: 1001, max: 2_000_000_000 }).map(String),
            fc.constantFrom("", "1e3", "1.5", "0x10", " 1", "1 ", "+1", "-0", "10000", "NaN", "Infinity", "1,2", "١"),
            fc.string({ maxLength: 6 }).filter((s) => !/^\d{1,4}$/.test(s) || Number(s) < 1 || Number(s) > 1000),
          )
          .map(single("limit")),
        fc
          .oneof(
            fc.integer({ min: 3, max: 253 }).map(String),
            fc.integer({ min: 256, max: 100_000 }).map(String),
            fc.constantFrom("-1", "", "OWNER", "1.0", "0x01", " 1", "2 ", "1e0", "255.5"),
            fc.string({ maxLength: 4 }).filter((s) => !/^\d{1,3}$/.test(s) || ![0, 1, 2, 254, 255].includes(Number(s))),
          )
          .map(single("role")),
        fc
          .oneof(fc.constantFrom("", "TRUE", "False", "1", "0", "yes", "true ", " false"), fc.string({ maxLength: 6 }))
          .filter((v) => v !== "true" && v !== "false")
          .map(single("includeDeleted")),
        fc
          .oneof(
            fc.integer({ min: 101, max: 140 }).chain(trimmedText),
            fc.integer({ min: 101, max: 103 }).map((n) => "\u{1F600}".repeat(n)),
            // Control characters, as the documented pattern forbids.
            fc
              .tuple(trimmedText(2), fc.integer({ min: 0, max: 0x1f }), trimmedText(2))
              .map(([x, c, y]) => x + String.fromCharCode(c) + y),
            fc.constantFrom("\u0000", "\u007f", "a\u0000b"),
          )
          .map(single("q")),
        fc
          .oneof(
            fc.string({ minLength: 1, maxLength: 40 }),
            fc
              .base64String({ minLength: 4, maxLength: 60 })
              .map((s) => s.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")),
            fc.constantFrom(
              "",
              "A".repeat(513),
              btoa('["2026-01-01T00:00:00.000Z","x"]').replace(/=+$/, ""),
              btoa("[]").replace(/=+$/, ""),
            ),
          )
          .map(single("cursor")),
        unknownParam(LIST_PARAMS).map((p) => [p]),
        // A known parameter given twice.
        fc.constantFrom(...LIST_PARAMS).map((name): [string, string][] => {
          const value = { limit: "5", role: "1", includeDeleted: "true" }[name] ?? "x";
          return [
            [name, value],
            [name, value],
          ];
        }),
      );
      await checkProperty(
        fc.asyncProperty(invalid, async (params) => {
          const res = await call("GET", `/organization/users?${new URLSearchParams(params)}`, { token });
          expectRejected(res, 400);
          expect(res.body.details?.map((d: { path: string }) => d.path)).toContain(params[0]![0]);
        }),
        200,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// POST /organization/users

const ATOM = fc.string({ unit: fc.constantFrom(..."abcXYZ019_'+-"), minLength: 1, maxLength: 12 });
const LABEL = fc
  .string({ unit: fc.constantFrom(..."abcdeXYZ0189-"), minLength: 1, maxLength: 12 })
  .filter((l) => /^[A-Za-z0-9]/.test(l) && !l.endsWith("-"));

/** Addresses of the accepted form, up to 254 characters, unique per call (a fresh label is added). */
const emailParts = fc.record({
  local: fc
    .array(ATOM, { minLength: 1, maxLength: 4 })
    .map((atoms) => atoms.join("."))
    .filter((l) => !l.endsWith("'")),
  labels: fc.array(LABEL, { maxLength: 2 }),
  tld: fc.string({ unit: fc.constantFrom(..."comORGNetxyz"), minLength: 2, maxLength: 6 }),
  target: fc.oneof(fc.constant(254), fc.integer({ min: 0, max: 254 })),
});

function emailFrom(parts: EmailParts): string {
  const unique = `u${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`;
  const base = [unique, ...parts.labels, parts.tld];
  let email = `${parts.local}@${base.join(".")}`;
  // Filler labels up to the target length (63 characters at most each).
  while (email.length < parts.target - 2) {
    const room = parts.target - email.length - 1;
    const label = "d".repeat(Math.min(63, room));
    base.splice(1, 0, label);
    email = `${parts.local}@${base.join(".")}`;
  }
  return email;
}

const anyChar = fc.string({ unit: "binary", minLength: 1, maxLength: 1 });

/** 8-256 code points with an upper-case letter, a lower-case letter and a digit; anything else goes. */
const password = lengthIn(8, 256).chain((n) =>
  fc
    .tuple(
      fc.array(anyChar, { minLength: n - 3, maxLength: n - 3 }),
      fc.nat(),
      fc.nat(),
      fc.nat(),
      fc.constantFrom("A", "Z", "É", "П"),
      fc.constantFrom("a", "z", "é", "п"),
      fc.constantFrom("0", "9", "\u0663"),
    )
    .map(([chars, i, j, k, upper, lower, digit]) => {
      const out = [...chars];
      out.splice(i % (out.length + 1), 0, upper);
      out.splice(j % (out.length + 1), 0, lower);
      out.splice(k % (out.length + 1), 0, digit);
      return out.join("");
    }),
);

const AUTH_METHODS = ["LOCAL", "GOOGLE", "GITHUB", "MICROSOFT"] as const;

type CreateCase = { role: (typeof MANAGERS)[number]; parts: EmailParts; upper: boolean; body: Json; expected: Json };
type EmailParts = { local: string; labels: string[]; tld: string; target: number };

const validCreate: fc.Arbitrary<CreateCase> = fc.constantFrom(...MANAGERS).chain((role) =>
  fc
    .record(
      {
        parts: emailParts,
        upper: fc.boolean(),
        password,
        firstName: validText(1, 100),
        lastName: validText(1, 100),
        orgRole: fc.option(fc.constantFrom(...rolesUpTo(ROLE[role])), { nil: undefined }),
        sendInvite: fc.option(fc.boolean(), { nil: undefined }),
        provider: fc.option(validText(0, 100), { nil: undefined }),
        authMethod: fc.option(fc.constantFrom(...AUTH_METHODS), { nil: undefined }),
      },
      { requiredKeys: ["parts", "upper", "password", "firstName", "lastName"] },
    )
    .map((r) => {
      const body: Json = { password: r.password, firstName: r.firstName.sent, lastName: r.lastName.sent };
      if (r.orgRole !== undefined) body.orgRole = r.orgRole;
      if (r.sendInvite !== undefined) body.sendInvite = r.sendInvite;
      if (r.provider !== undefined) body.provider = r.provider.sent;
      if (r.authMethod !== undefined) body.authMethod = r.authMethod;
      return {
        role,
        parts: r.parts,
        upper: r.upper,
        body,
        expected: {
          firstName: r.firstName.stored,
          lastName: r.lastName.stored,
          orgRole: r.orgRole ?? 0,
          sendInvite: r.sendInvite ?? true,
          provider: r.provider === undefined || r.provider.stored === "" ? null : r.provider.stored,
          authMethod: r.authMethod ?? "LOCAL",
        },
      };
    }),
);

/** The request body of a generated case, with a fresh address built from its parts (email first). */
function createBody(c: CreateCase): { body: Json; email: string } {
  const email = emailFrom(c.parts);
  return { body: { email: c.upper ? email.toUpperCase() : email, ...c.body }, email: email.toLowerCase() };
}

const badEmail: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    "",
    "plain",
    "@example.com",
    "a@",
    "a@@example.com",
    "a@b@example.com",
    ".a@example.com",
    "a..b@example.com",
    "a.@example.com",
    "a@example",
    "a@example.c",
    "a@example.123",
    "a b@example.com",
    "a@exa mple.com",
    "a\u0000b@example.com",
    "é@example.com",
    "a@-example.com",
    "' OR 1=1--@x.com",
    '"a"@example.com',
    "a@example.com ",
    " a@example.com",
    "a@example-.com",
    "a@x.example-.com",
    `${"a".repeat(65)}@example.com`,
    `a@${"b".repeat(64)}.example.com`,
  ),
  // One past 254 characters, otherwise well formed.
  fc.constant(`${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}.com`),
  notOfType("string"),
);

const badPassword: fc.Arbitrary<unknown> = fc.oneof(
  lengthIn(0, 7)
    .chain((n) => fc.array(anyChar, { minLength: n, maxLength: n }).map((c) => ("Aa1" + c.join("")).slice(0, Math.max(0, n))))
    .filter((p) => codePoints(p) < 8),
  fc.integer({ min: 254, max: 300 }).map((n) => "Aa1" + "\u{1F600}".repeat(n)),
  fc.integer({ min: 257, max: 300 }).map((n) => "Aa1" + "x".repeat(n - 3)),
  fc
    .string({ unit: "grapheme-ascii", minLength: 8, maxLength: 40 })
    .filter((p) => !(/[A-Z]/.test(p) && /[a-z]/.test(p) && /[0-9]/.test(p))),
  // Missing a class in another script too.
  fc.constantFrom("пароль12", "ПАРОЛЬ12", "Парольаб", "éèêëàâ12", "ÉÈÊËÀÂ12", "Aa\u00b2\u00b3\u00bc\u00bd\u00be\u2460"),
  notOfType("string"),
);

const badRole: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 3, max: 253 }),
  fc.integer({ min: 256 }),
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.constantFrom("0", "255", "OWNER", null, true, [255], { role: 255 }, 1e308, -0.5),
);

const CREATE_FIELDS = ["email", "password", "firstName", "lastName", "orgRole", "sendInvite", "provider", "authMethod"];

const badCreateField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constant("email"), badEmail),
  fc.tuple(fc.constant("password"), badPassword),
  fc.tuple(fc.constantFrom("firstName", "lastName"), fc.oneof(invalidText(1, 100), notOfType("string"))),
  fc.tuple(fc.constant("orgRole"), badRole),
  fc.tuple(fc.constant("sendInvite"), notOfType("boolean")),
  fc.tuple(fc.constant("provider"), fc.oneof(invalidText(0, 100), notOfType("string"))),
  fc.tuple(fc.constant("authMethod"), fc.oneof(fc.constantFrom("local", "Google", "SAML", "", " LOCAL"), notOfType("string"))),
);

describe("property: POST /organization/users", () => {
  it(
    "creates any valid user (201): stored lower-cased and trimmed as answered, invitation per sendInvite, then readable",
    async () => {
      const { a } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(validCreate, async (c) => {
          const { body, email } = createBody(c);
          const caller = a.users[c.role];
          const res = await call("POST", "/organization/users", { token: caller.token, body });
          expect(res.status, res.text).toBe(201);
          const user = res.body.data;
          expect(user).toMatchObject({
            email,
            name: c.expected.firstName,
            lastName: c.expected.lastName,
            orgId: a.id,
            orgRole: c.expected.orgRole,
            validated: false,
            deletedAt: null,
          });
          expect(res.text).not.toContain(JSON.stringify(body.password).slice(1, -1));
          const row = await userRow(user.id);
          expect(row).toMatchObject({
            org_id: a.id,
            email,
            first_name: c.expected.firstName,
            last_name: c.expected.lastName,
            first_name_folded: (c.expected.firstName as string).toLowerCase(),
            last_name_folded: (c.expected.lastName as string).toLowerCase(),
            org_role: c.expected.orgRole,
            validated: 0,
            provider: c.expected.provider,
            auth_method: c.expected.authMethod,
            deleted_at: null,
          });
          const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM invitations WHERE user_id = ?")
            .bind(user.id)
            .first<{ n: number }>())!;
          expect(n).toBe(c.expected.sendInvite ? 1 : 0);
          const fetched = await call("GET", `/organization/users/${user.id}`, { token: caller.token });
          expect(fetched.body).toEqual(user);
        }),
        25,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses every kind of invalid body with 400 (and a role above the caller's with 403), writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const invalid: fc.Arbitrary<{ role: (typeof MANAGERS)[number]; text: string; status: number }> = fc.oneof(
        fc.tuple(validCreate, badCreateField).map(([c, [field, value]]) => ({
          role: c.role,
          text: JSON.stringify({ ...createBody(c).body, [field]: value }),
          status: 400,
        })),
        fc.tuple(validCreate, fc.constantFrom("email", "password", "firstName", "lastName")).map(([c, field]) => {
          const body = createBody(c).body;
          delete body[field];
          return { role: c.role, text: JSON.stringify(body), status: 400 };
        }),
        fc.tuple(validCreate, foreignKey(CREATE_FIELDS), fc.jsonValue()).map(([c, key, value]) => ({
          role: c.role,
          text: `{${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"},${JSON.stringify(createBody(c).body).slice(1)}`,
          status: 400,
        })),
        fc.tuple(fc.constantFrom(...MANAGERS), notAnObject).map(([role, text]) => ({ role, text, status: 400 })),
        // A valid role above the caller's own: the ceiling.
        fc
          .tuple(
            validCreate.filter((c) => c.role !== "OWNER"),
            fc.constantFrom(ROLE.ADMINISTRATOR, ROLE.OWNER),
          )
          .filter(([c, orgRole]) => orgRole > ROLE[c.role])
          .map(([c, orgRole]) => ({ role: c.role, text: JSON.stringify({ ...createBody(c).body, orgRole }), status: 403 })),
      );
      await checkProperty(
        fc.asyncProperty(invalid, async ({ role, text, status }) => {
          const res = await expectUnchanged(() => sendRaw("POST", "/organization/users", a.users[role].token, text));
          expectRejected(res, status);
        }),
        150,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses an address already taken, in any letter case, by a live or deleted user of either organization (409), writing nothing",
    async () => {
      const { a, b } = await createTwoOrgs();
      const taken = [a.users.USER, a.deleted, b.users.OWNER, b.deleted];
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...taken), validCreate, fc.boolean(), async (holder, c, upper) => {
          const email = upper ? holder.email.toUpperCase() : holder.email;
          const res = await expectUnchanged(() =>
            call("POST", "/organization/users", {
              token: a.users[c.role].token,
              body: { ...createBody(c).body, email, orgRole: 0 },
            }),
          );
          expectRejected(res, 409);
          expect(res.body.code).toBe("conflict");
          // The reactivation hint only for a deleted user of the caller's own organization.
          if (holder === a.deleted) expect(res.body.message).toMatch(/reactivat/i);
          else expect(res.body.message).toBe("A user with this email already exists");
        }),
        25,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// GET, PUT, DELETE /organization/users/{userId} and POST .../activate

const userUpdate = (callerRole: Role) =>
  fc
    .record(
      {
        name: validText(1, 100),
        lastName: validText(1, 100),
        orgRole: fc.constantFrom(...rolesUpTo(callerRole)).map((r) => ({ sent: r, stored: r })),
      },
      { requiredKeys: [] },
    )
    .filter((fields) => Object.keys(fields).length > 0)
    .map((fields) => ({
      body: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.sent])) as Json,
      expected: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.stored])) as Json,
    }));

const UPDATE_FIELDS = ["name", "lastName", "orgRole"];

const badUpdateField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constantFrom("name", "lastName"), fc.oneof(invalidText(1, 100), notOfType("string"))),
  fc.tuple(fc.constant("orgRole"), badRole),
);

/** A fresh live user of `org` that `caller` may act on (its role at or below the caller's). */
async function targetFor(
  org: OrgFixture,
  callerRole: Role,
  pick: number,
  options: { deleted?: boolean } = {},
): Promise<FixtureUser> {
  const roles = rolesUpTo(callerRole);
  return insertUser(org.id, roles[pick % roles.length]!, options);
}

const ITEM_ROUTES = [
  { method: "GET", suffix: "" },
  { method: "PUT", suffix: "" },
  { method: "DELETE", suffix: "" },
  { method: "POST", suffix: "/activate" },
] as const;

describe("property: GET /organization/users/{userId}", () => {
  it(
    "answers 200 with the stored user for any user of the caller's organization (id in any case), 404 for a deleted one unless includeDeleted=true",
    async () => {
      const { a } = await createTwoOrgs();
      const targets = [...Object.values(a.users), a.deleted];
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom(...MANAGERS),
          fc.constantFrom(...targets).chain((t) => fc.tuple(fc.constant(t), randomCase(t.id))),
          fc.option(fc.boolean(), { nil: undefined }),
          async (role, [target, id], includeDeleted) => {
            const query = includeDeleted === undefined ? "" : `?includeDeleted=${includeDeleted}`;
            const res = await call("GET", `/organization/users/${id}${query}`, { token: a.users[role].token });
            if (target.deleted && !includeDeleted) return expectError(res, 404, "not_found", "User not found");
            expect(res.status, res.text).toBe(200);
            const row = await userRow(target.id);
            expect(res.body).not.toHaveProperty("success");
            expect(res.body).toMatchObject({
              id: target.id,
              email: row?.email,
              orgId: a.id,
              orgRole: row?.org_role,
              deletedAt: row?.deleted_at,
            });
          },
        ),
        40,
      );
    },
    TIMEOUT,
  );
});

describe("property: every item route refuses malformed ids and query parameters", () => {
  it(
    "answers a malformed user id with 400 bad_request (any segment that reaches the route), writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...ITEM_ROUTES), malformedId(a.users.USER.id), async (route, id) => {
          const path = `/organization/users/${segment(id)}${route.suffix}`;
          const body = route.method === "PUT" ? { name: "Grace" } : undefined;
          const res = await expectUnchanged(() => call(route.method, path, { token, body }));
          if (reachesRoute(id)) expectError(res, 400, "bad_request", "Malformed id: expected a UUID");
          else expectRejected(res);
        }),
        120,
      );
    },
    TIMEOUT,
  );

  it(
    "answers an unknown query parameter, or a bad includeDeleted, with 400 validation_failed, writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      // GET takes includeDeleted (true|false) and nothing else; the other three take no parameter at all.
      const request = fc.constantFrom(...ITEM_ROUTES).chain((route) =>
        fc.tuple(
          fc.constant(route),
          route.method === "GET"
            ? fc.oneof(
                unknownParam(["includeDeleted"]),
                fc
                  .string({ maxLength: 6 })
                  .filter((v) => v !== "true" && v !== "false")
                  .map((v): [string, string] => ["includeDeleted", v]),
              )
            : unknownParam([]),
        ),
      );
      await checkProperty(
        fc.asyncProperty(request, async ([route, p]) => {
          // A target each write would otherwise act on (activate: a deleted user).
          const target = route.suffix ? await insertUser(a.id, ROLE.USER, { deleted: true }) : await insertUser(a.id, ROLE.USER);
          const path = `/organization/users/${target.id}${route.suffix}?${new URLSearchParams([p])}`;
          const body = route.method === "PUT" ? { name: "Grace" } : undefined;
          const res = await expectUnchanged(() => call(route.method, path, { token, body }));
          expectError(res, 400, "validation_failed");
          expect(res.body.details?.map((d: { path: string }) => d.path)).toContain(p[0]);
        }),
        60,
      );
    },
    TIMEOUT,
  );
});

describe("property: PUT /organization/users/{userId}", () => {
  it(
    "applies any valid partial update within the ceiling: 200, stored trimmed exactly as answered, nothing else changed",
    async () => {
      const { a } = await createTwoOrgs();
      // A second owner, so an owner target can be demoted.
      await insertUser(a.id, ROLE.OWNER);
      await checkProperty(
        fc.asyncProperty(
          fc.constantFrom(...MANAGERS).chain((role) => fc.tuple(fc.constant(role), fc.nat(), userUpdate(ROLE[role]))),
          async ([role, pick, { body, expected }]) => {
            const target = await targetFor(a, ROLE[role], pick);
            const before = await userRow(target.id);
            const res = await call("PUT", `/organization/users/${target.id}`, { token: a.users[role].token, body });
            expect(res.status, res.text).toBe(200);
            const first = (expected.name as string | undefined) ?? (before?.first_name as string);
            const last = (expected.lastName as string | undefined) ?? (before?.last_name as string);
            const orgRole = (expected.orgRole as number | undefined) ?? (before?.org_role as number);
            expect(res.body.data).toMatchObject({
              id: target.id,
              name: first,
              lastName: last,
              orgRole,
              email: before?.email,
              deletedAt: null,
            });
            const after = await userRow(target.id);
            expect(after).toEqual({
              ...before,
              first_name: first,
              first_name_folded: first.toLowerCase(),
              last_name: last,
              last_name_folded: last.toLowerCase(),
              org_role: orgRole,
              updated_at: after?.updated_at,
              version: (before?.version as number) + 1,
            });
          },
        ),
        50,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses every kind of invalid body with 400 (a role above the caller's with 403), writing nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const target = a.users.USER;
      const path = `/organization/users/${target.id}`;
      const invalid: fc.Arbitrary<{ role: (typeof MANAGERS)[number]; text: string; status: number }> = fc
        .constantFrom(...MANAGERS)
        .chain((role) =>
          fc.oneof(
            fc
              .tuple(userUpdate(ROLE[role]), badUpdateField)
              .map(([{ body }, [field, value]]) => ({ role, text: JSON.stringify({ ...body, [field]: value }), status: 400 })),
            fc.tuple(userUpdate(ROLE[role]), foreignKey(UPDATE_FIELDS), fc.jsonValue()).map(([{ body }, key, value]) => ({
              role,
              text: `{${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"},${JSON.stringify(body).slice(1)}`,
              status: 400,
            })),
            notAnObject.map((text) => ({ role, text, status: 400 })),
            fc.constant({ role, text: "{}", status: 400 }),
            // A valid role above the caller's own (none is above an OWNER's: an empty body instead).
            fc
              .constantFrom(...ROLE_VALUES.filter((orgRole) => orgRole > ROLE[role]), null)
              .map((orgRole) =>
                orgRole === null ? { role, text: "{}", status: 400 } : { role, text: JSON.stringify({ orgRole }), status: 403 },
              ),
          ),
        );
      await checkProperty(
        fc.asyncProperty(invalid, async ({ role, text, status }) => {
          const res = await expectUnchanged(() => sendRaw("PUT", path, a.users[role].token, text));
          expectRejected(res, status);
        }),
        150,
      );
    },
    TIMEOUT,
  );
});

describe("property: DELETE and activate", () => {
  it(
    "soft-deletes any user within the ceiling (200) and reactivates them (200), touching only deleted_at, updated_at and the token watermark",
    async () => {
      const { a } = await createTwoOrgs();
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...MANAGERS), fc.nat(), fc.boolean(), async (role, pick, upper) => {
          const target = await targetFor(a, ROLE[role], pick);
          const id = upper ? target.id.toUpperCase() : target.id;
          const before = await userRow(target.id);
          const del = await call("DELETE", `/organization/users/${id}`, { token: a.users[role].token });
          expect(del.status, del.text).toBe(200);
          const deleted = await userRow(target.id);
          expect(deleted).toEqual({
            ...before,
            deleted_at: expect.any(String),
            updated_at: deleted?.updated_at,
            tokens_valid_after: Math.ceil(Date.parse(deleted?.deleted_at as string) / 1000),
            version: (before?.version as number) + 1,
          });
          const back = await call("POST", `/organization/users/${id}/activate`, { token: a.users[role].token });
          expect(back.status, back.text).toBe(200);
          expect(back.body.data).toMatchObject({ id: target.id, deletedAt: null });
          const after = await userRow(target.id);
          // Reactivation keeps the watermark the deletion set.
          expect(after).toEqual({
            ...before,
            updated_at: after?.updated_at,
            tokens_valid_after: deleted?.tokens_valid_after,
            version: (before?.version as number) + 2,
          });
        }),
        40,
      );
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------------------------------------
// Check order, for any input: 401 before everything, then the route's role.

type AnyInput = { id: string; query: [string, string][]; body: unknown };

const anyInput = (org: OrgFixture): fc.Arbitrary<AnyInput> =>
  fc.record({
    id: fc.oneof(
      fc.constant(org.users.USER.id),
      fc.constant(org.deleted.id),
      unknownId,
      malformedId(org.id).filter(reachesRoute),
    ),
    query: fc.array(
      fc.tuple(fc.oneof(fc.constantFrom(...LIST_PARAMS), fc.string({ maxLength: 5 })), fc.string({ maxLength: 8 })),
      { maxLength: 2 },
    ),
    body: fc.oneof(fc.jsonValue(), fc.constant({ name: "Grace" }), fc.constant({ orgRole: 255 }), fc.constant({})),
  });

type AnyOperation = {
  name: string;
  minimum: Role | null;
  method: string;
  /** The path with `id` (a path segment, already encoded) where the operation takes one. */
  path(id: string): string;
  body: boolean;
};

const OPERATIONS: AnyOperation[] = [
  { name: "GET org", minimum: null, method: "GET", path: (id) => `/organization/${id === "users" ? "x" : id}`, body: false },
  {
    name: "PUT org",
    minimum: ROLE.ADMINISTRATOR,
    method: "PUT",
    path: (id) => `/organization/${id === "users" ? "x" : id}`,
    body: true,
  },
  { name: "list", minimum: ROLE.WORKSPACES, method: "GET", path: () => "/organization/users", body: false },
  { name: "create", minimum: ROLE.WORKSPACES, method: "POST", path: () => "/organization/users", body: true },
  { name: "get user", minimum: ROLE.WORKSPACES, method: "GET", path: (id) => `/organization/users/${id}`, body: false },
  { name: "update user", minimum: ROLE.WORKSPACES, method: "PUT", path: (id) => `/organization/users/${id}`, body: true },
  { name: "delete user", minimum: ROLE.WORKSPACES, method: "DELETE", path: (id) => `/organization/users/${id}`, body: false },
  {
    name: "activate",
    minimum: ROLE.WORKSPACES,
    method: "POST",
    path: (id) => `/organization/users/${id}/activate`,
    body: false,
  },
];

function requestOf(op: AnyOperation, input: AnyInput, token: string | undefined) {
  const query = input.query.length ? `?${new URLSearchParams(input.query)}` : "";
  return call(op.method, `${op.path(segment(input.id))}${query}`, {
    token,
    body: op.body ? JSON.stringify(input.body) : undefined,
    headers: op.body ? { "Content-Type": "application/json" } : {},
  });
}

describe("property: check order for any input", () => {
  it(
    "answers 401 without a usable token, whatever the operation and input, and writes nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const now = Math.floor(Date.now() / 1000);
      const tokens = [
        undefined,
        "",
        "garbage",
        "a.b.c",
        a.users.OWNER.token.slice(0, -2),
        await tokenFor(a.users.OWNER.id, { iat: now - 7200, exp: now - 3600 }),
        a.deleted.token,
        await tokenFor(crypto.randomUUID()),
      ];
      await checkProperty(
        fc.asyncProperty(fc.constantFrom(...OPERATIONS), anyInput(a), fc.constantFrom(...tokens), async (op, input, token) => {
          const res = await expectUnchanged(() => requestOf(op, input, token));
          expectError(res, 401, "unauthorized");
          expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
        }),
        100,
      );
    },
    TIMEOUT,
  );

  it(
    "answers 403 to a caller below the route's role, whatever the input, and writes nothing",
    async () => {
      const { a } = await createTwoOrgs();
      const guarded = OPERATIONS.filter((op) => op.minimum !== null);
      await checkProperty(
        fc.asyncProperty(
          fc
            .constantFrom(...guarded)
            .chain((op) =>
              fc.tuple(fc.constant(op), fc.constantFrom(...ALL_ROLES.filter((r) => ROLE[r] < (op.minimum as number)))),
            ),
          anyInput(a),
          async ([op, role], input) => {
            const res = await expectUnchanged(() => requestOf(op, input, a.users[role].token));
            expectError(res, 403, "forbidden");
          },
        ),
        100,
      );
    },
    TIMEOUT,
  );
});
